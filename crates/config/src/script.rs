//! Command lines in keepalived's quoting rules: words split on unquoted
//! white space, `"` and `'` quote within a word and are removed, and (where
//! keepalived processes escapes) `\n`, `\t`, `\xHH`, `\NNN`, `\cC` and `\C`
//! are decoded. Used for notify scripts, MISC_CHECK paths, vrrp_script and
//! the HTTP `regex` value.

use crate::model::Script;

/// Split `text` into words. With `escapes` false a backslash and the
/// character after it are kept as they are (keepalived's "quoted" strings);
/// with `escapes` true the escape is decoded.
pub fn split_words(text: &str, escapes: bool) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (_, '\\') => {
                    i += 1;
                    let Some(&next) = chars.get(i) else {
                        return Err(format!("'{text}' ends with a lone backslash"));
                    };
                    if escapes {
                        i = decode_escape(&chars, i, &mut word);
                    } else {
                        // An escaped comment character is just that character.
                        if !(quote.is_none() && (next == '#' || next == '!')) {
                            word.push('\\');
                        }
                        word.push(next);
                        i += 1;
                    }
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    i += 1;
                }
                (Some(_), c) => {
                    word.push(c);
                    i += 1;
                }
                (None, '"' | '\'') => {
                    quote = Some(c);
                    i += 1;
                }
                (None, c) if c.is_whitespace() => break,
                (None, c) => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        if let Some(q) = quote {
            return Err(format!("missing closing {q} in '{text}'"));
        }
        words.push(word);
    }
    Ok(words)
}

/// Decode the escape whose character is at `chars[i]`; returns the index after it.
fn decode_escape(chars: &[char], mut i: usize, out: &mut String) -> usize {
    let c = chars[i];
    match c {
        'x' if chars.get(i + 1).is_some_and(|c| c.is_ascii_hexdigit()) => {
            i += 1;
            let mut v: u32 = 0;
            let mut n = 0;
            while n < 2 && chars.get(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                v = v * 16 + chars[i].to_digit(16).unwrap_or(0);
                i += 1;
                n += 1;
            }
            out.push(char::from_u32(v).unwrap_or('?'));
            i
        }
        'c' if i + 1 < chars.len() => {
            let v = (chars[i + 1] as u32) & 0x1f;
            out.push(char::from_u32(v).unwrap_or('?'));
            i + 2
        }
        '0'..='7' => {
            let mut v: u32 = 0;
            let mut n = 0;
            while n < 3 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                i += 1;
                n += 1;
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            i
        }
        _ => {
            out.push(match c {
                'a' => '\u{7}',
                'b' => '\u{8}',
                'E' => '\u{1b}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\u{b}',
                other => other,
            });
            i + 1
        }
    }
}

impl Script {
    /// The program and its arguments, split the way keepalived does before
    /// exec (quotes group words, escapes are decoded).
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let words = split_words(&self.command, true)?;
        if words.is_empty() {
            return Err("empty command".into());
        }
        Ok(words)
    }
}

/// Apply the escapes Piranha's nanny and ldirectord's simpletcp understand in
/// a send string: `\n`, `\r`, `\t` and `\\` (anything else after a backslash
/// is kept as written).
pub fn unescape_send(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_and_join() {
        assert_eq!(
            split_words(r#"abcd" efg h jkl "mnop"#, false).unwrap(),
            vec!["abcd efg h jkl mnop"]
        );
        assert_eq!(
            split_words(r#"abcd "efg h jkl" mnop"#, false).unwrap(),
            vec!["abcd", "efg h jkl", "mnop"]
        );
        assert!(split_words(r#"a "b"#, false).is_err());
    }

    #[test]
    fn escapes_decode_only_when_asked() {
        assert_eq!(
            split_words(r"a\x20b \101 \n", true).unwrap(),
            vec!["a b", "A", "\n"]
        );
        assert_eq!(split_words(r"a\.b", false).unwrap(), vec![r"a\.b"]);
        assert_eq!(split_words(r"a\.b", true).unwrap(), vec!["a.b"]);
        assert!(split_words("a\\", true).is_err());
    }

    #[test]
    fn script_argv_follows_keepalived_example() {
        let s = Script {
            command:
                r#"/etc/keepalived/notify.sh ' spaces\x20f\x69le ' '"s p a c e "' SG1.low master"#
                    .into(),
            user: None,
            group: None,
        };
        assert_eq!(
            s.argv().unwrap(),
            vec![
                "/etc/keepalived/notify.sh",
                " spaces file ",
                "\"s p a c e \"",
                "SG1.low",
                "master"
            ]
        );
    }

    #[test]
    fn send_strings_unescape() {
        assert_eq!(
            unescape_send(r"GET / HTTP/1.0\r\n\r\n"),
            "GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(unescape_send(r"a\qb\"), "a\\qb\\");
    }
}
