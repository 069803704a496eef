//! The Prometheus text exposition format (version 0.0.4): metric families with their
//! `# HELP` and `# TYPE` lines, samples with escaped label values. Only what rvs
//! needs: counters and gauges, integer and float values.

use std::fmt::Write as _;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
        }
    }
}

/// A sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v.into())
    }
}

/// One sample of a family: its labels (name, value) in order, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

impl Sample {
    pub fn new(labels: Vec<(&'static str, String)>, value: impl Into<Value>) -> Sample {
        Sample {
            labels,
            value: value.into(),
        }
    }
}

/// Writes families into a text buffer.
#[derive(Debug, Default)]
pub struct TextWriter {
    out: String,
}

impl TextWriter {
    pub fn new() -> TextWriter {
        TextWriter::default()
    }

    /// Writes a family. A family without samples is left out entirely, so that
    /// optional parts of the director (VRRP, sync, health) add no empty headers.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        for s in samples {
            self.out.push_str(name);
            if !s.labels.is_empty() {
                self.out.push('{');
                for (i, (label, value)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{label}=\"{}\"", escape_label_value(value));
                }
                self.out.push('}');
            }
            self.out.push(' ');
            write_value(&mut self.out, s.value);
            self.out.push('\n');
        }
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, kind: MetricType, value: impl Into<Value>) {
        self.family(name, help, kind, &[Sample::new(Vec::new(), value)]);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_value(out: &mut String, v: Value) {
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => {
            out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        }
        // Rust prints floats in full decimal (never exponent form): valid for the format.
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
    }
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: backslash and line feed escaped.
pub fn escape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn family_with_labels_and_values() {
        let mut w = TextWriter::new();
        w.family(
            "x_total",
            "Things.\nCounted \\ here.",
            MetricType::Counter,
            &[
                Sample::new(vec![("a", "1".into()), ("b", "q\"\\\n".into())], 5u64),
                Sample::new(vec![], 0.25),
            ],
        );
        w.single("y", "Y.", MetricType::Gauge, f64::INFINITY);
        w.family("empty", "Left out.", MetricType::Gauge, &[]);
        assert_eq!(
            w.finish(),
            "# HELP x_total Things.\\nCounted \\\\ here.\n\
             # TYPE x_total counter\n\
             x_total{a=\"1\",b=\"q\\\"\\\\\\n\"} 5\n\
             x_total 0.25\n\
             # HELP y Y.\n\
             # TYPE y gauge\n\
             y +Inf\n"
        );
    }

    #[test]
    fn small_floats_print_without_exponent() {
        let mut s = String::new();
        write_value(&mut s, Value::Float(0.000_000_15));
        assert_eq!(s, "0.00000015");
    }

    /// Undoes the escaping the way a Prometheus parser reads a label value.
    fn unescape(s: &str) -> Option<String> {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    proptest! {
        #[test]
        fn label_values_round_trip(s in any::<String>()) {
            let e = escape_label_value(&s);
            prop_assert!(!e.contains('\n'));
            prop_assert_eq!(unescape(&e), Some(s));
        }

        #[test]
        fn help_is_one_line(s in any::<String>()) {
            prop_assert!(!escape_help(&s).contains('\n'));
        }
    }
}
