//! keepalived.conf lines to tokens. Handles, in keepalived's order: comments
//! (`#` and `!` outside double quotes), `@id` / `@^id` conditional lines,
//! `$NAME=VALUE` parameter definitions (also multi-line ones) and their
//! substitution (`$NAME`, `${NAME}`, `${_PWD}`, `${_INSTANCE}`, `${_HASH}`,
//! `${_BANG}`), the `include` family (glob patterns relative to the including
//! file, nested, cycles detected), then splits the line into words, quoted
//! strings and braces. Every token keeps its file, line and column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::ConfigError;
use crate::glob;
use crate::source::{normalize, Files, Pos, SourceLoader};
use crate::LoadOptions;

/// Deepest include nesting accepted.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most files one load may read (includes counted each time).
pub const MAX_FILES: usize = 4096;
/// Substitution rounds on one line before giving up (recursive definitions).
const MAX_SUBST_ROUNDS: usize = 32;
/// Longest line after parameter substitution.
const MAX_LINE_BYTES: usize = 1 << 20;
/// Nesting of multi-line parameter expansions.
const MAX_EXPANSION_DEPTH: usize = 16;
/// Most tokens one load may produce (bounds what parameter expansion can build).
const MAX_TOKENS: usize = 4_000_000;
/// Most lines multi-line parameters may expand to in one load.
const MAX_EXPANDED_LINES: usize = 1_000_000;

/// A word of the configuration, quotes removed.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    pub text: String,
    pub pos: Pos,
    /// Byte range of the word in `line` (quotes included).
    pub start: usize,
    pub end: usize,
    pub line: Rc<str>,
}

#[derive(Clone, Debug)]
pub(crate) enum Tok {
    Word(Word),
    Open(Pos),
    Close(Pos),
    Eol,
}

pub(crate) struct Lexed {
    pub toks: Vec<Tok>,
    pub files: Files,
}

#[derive(Clone, Debug)]
struct Definition {
    value: String,
}

struct Lexer<'a> {
    loader: &'a dyn SourceLoader,
    opts: &'a LoadOptions,
    files: Files,
    toks: Vec<Tok>,
    defs: HashMap<String, Definition>,
    /// Canonical names of the files being read, outermost first.
    stack: Vec<PathBuf>,
    /// Display names matching `stack`.
    stack_names: Vec<PathBuf>,
    /// Lines produced by multi-line parameter expansion so far.
    expanded_lines: usize,
}

/// Tokenize `main` (read through `loader` unless `text` is given).
pub(crate) fn lex(
    loader: &dyn SourceLoader,
    main: &Path,
    text: Option<&str>,
    opts: &LoadOptions,
) -> Result<Lexed, ConfigError> {
    let mut lx = Lexer {
        loader,
        opts,
        files: Files::default(),
        toks: Vec::new(),
        defs: HashMap::new(),
        stack: Vec::new(),
        stack_names: Vec::new(),
        expanded_lines: 0,
    };
    let owned;
    let text = match text {
        Some(t) => t,
        None => {
            owned = loader.read_to_string(main).map_err(|e| {
                ConfigError::new(
                    crate::error::Location {
                        file: main.to_path_buf(),
                        line: 0,
                        column: 0,
                    },
                    format!("cannot read configuration file: {e}"),
                )
            })?;
            owned.as_str()
        }
    };
    let canon = loader
        .canonicalize(main)
        .unwrap_or_else(|_| normalize(main));
    lx.read_file(main.to_path_buf(), canon, text)?;
    Ok(Lexed {
        toks: lx.toks,
        files: lx.files,
    })
}

/// A definition being collected over several lines.
struct PendingDef {
    name: String,
    value: String,
}

impl Lexer<'_> {
    fn read_file(&mut self, path: PathBuf, canon: PathBuf, text: &str) -> Result<(), ConfigError> {
        let idx = self.files.add(path.clone());
        self.stack.push(canon);
        self.stack_names.push(path.clone());
        let pwd = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    ".".to_string()
                } else {
                    p.to_string_lossy().into_owned()
                }
            })
            .unwrap_or_else(|| ".".into());
        let mut pending: Option<PendingDef> = None;
        for (n, raw) in text.split('\n').enumerate() {
            let line_no = (n + 1).min(u32::MAX as usize) as u32;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let content = decomment(raw);
            if let Some(mut def) = pending.take() {
                let trimmed = content.trim();
                if let Some(body) = trimmed.strip_suffix('\\') {
                    push_def_line(&mut def.value, body.trim_end());
                    pending = Some(def);
                } else {
                    push_def_line(&mut def.value, trimmed);
                    self.defs.insert(def.name, Definition { value: def.value });
                }
                continue;
            }
            let pos = Pos {
                file: idx,
                line: line_no,
                col: 1,
            };
            pending = self.logical_line(content.to_string(), pos, &pwd, 0)?;
        }
        if let Some(def) = pending {
            self.defs.insert(def.name, Definition { value: def.value });
        }
        self.stack.pop();
        self.stack_names.pop();
        Ok(())
    }

    /// One logical line: conditionals, definitions, substitution, includes,
    /// then tokens. Returns a multi-line definition still being collected.
    fn logical_line(
        &mut self,
        line: String,
        pos: Pos,
        pwd: &str,
        depth: usize,
    ) -> Result<Option<PendingDef>, ConfigError> {
        let mut line = line;
        let mut substituted = false;
        loop {
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                return Ok(None);
            }
            let lead = line.len() - trimmed.len();
            // @id / @^id conditional configuration.
            if let Some(rest) = trimmed.strip_prefix('@') {
                let (negate, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let Some(sp) = rest.find([' ', '\t']) else {
                    return Ok(None); // nothing after the id: keepalived drops the line
                };
                let id = &rest[..sp];
                let matches = self.opts.config_id.as_deref() == Some(id);
                if matches == negate {
                    return Ok(None);
                }
                let keep_from = line.len() - rest.len() + sp;
                // Blank out the prefix so columns stay those of the file.
                let mut blanked = " ".repeat(keep_from);
                blanked.push_str(&line[keep_from..]);
                line = blanked;
                continue;
            }
            // $NAME=VALUE definitions (stored unexpanded, as keepalived does).
            if let Some((name, value)) = definition(trimmed) {
                let value = value.trim();
                if let Some(body) = value.strip_suffix('\\') {
                    let mut v = String::new();
                    push_def_line(&mut v, body.trim_end());
                    return Ok(Some(PendingDef {
                        name: name.to_string(),
                        value: v,
                    }));
                }
                self.defs.insert(
                    name.to_string(),
                    Definition {
                        value: value.to_string(),
                    },
                );
                return Ok(None);
            }
            if trimmed.starts_with("~SEQ") || trimmed.starts_with("~LST") {
                return Err(self.files.err(
                    Pos {
                        col: col_of(&line, lead),
                        ..pos
                    },
                    "~SEQ and ~LST blocks are not supported by rvs; expand them with keepalived first",
                ));
            }
            if !substituted && line.contains('$') {
                substituted = true;
                let expanded = self
                    .substitute(&line, pwd)
                    .map_err(|reason| self.files.err(pos, reason))?;
                if let Some(expanded) = expanded {
                    if expanded.contains('\n') {
                        if depth >= MAX_EXPANSION_DEPTH {
                            return Err(self
                                .files
                                .err(pos, "multi-line parameters nested too deeply"));
                        }
                        let mut pending: Option<PendingDef> = None;
                        for piece in expanded.split('\n') {
                            self.expanded_lines += 1;
                            if self.expanded_lines > MAX_EXPANDED_LINES {
                                return Err(self.files.err(
                                    pos,
                                    format!(
                                        "multi-line parameters expand to more than {MAX_EXPANDED_LINES} lines"
                                    ),
                                ));
                            }
                            if let Some(mut def) = pending.take() {
                                let t = piece.trim();
                                if let Some(body) = t.strip_suffix('\\') {
                                    push_def_line(&mut def.value, body.trim_end());
                                    pending = Some(def);
                                } else {
                                    push_def_line(&mut def.value, t);
                                    self.defs.insert(def.name, Definition { value: def.value });
                                }
                                continue;
                            }
                            pending = self.logical_line(piece.to_string(), pos, pwd, depth + 1)?;
                        }
                        if let Some(def) = pending {
                            self.defs.insert(def.name, Definition { value: def.value });
                        }
                        return Ok(None);
                    }
                    line = expanded;
                    continue;
                }
            }
            break;
        }
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        if let Some((kind, rest)) = include_directive(trimmed) {
            let kw_pos = Pos {
                col: col_of(&line, lead),
                ..pos
            };
            self.include(kind, rest.trim(), kw_pos, pwd)?;
            return Ok(None);
        }
        self.tokenize(&line, pos)?;
        Ok(None)
    }

    fn substitute(&self, line: &str, pwd: &str) -> Result<Option<String>, String> {
        let mut current = line.to_string();
        let mut changed_any = false;
        for _ in 0..MAX_SUBST_ROUNDS {
            let (next, changed) = self.substitute_once(&current, pwd)?;
            if !changed {
                return Ok(changed_any.then_some(current));
            }
            if next.len() > MAX_LINE_BYTES {
                return Err(format!(
                    "line longer than {MAX_LINE_BYTES} bytes after parameter substitution"
                ));
            }
            changed_any = true;
            current = next;
        }
        Err("parameter substitution does not end (a definition refers to itself?)".into())
    }

    fn substitute_once(&self, line: &str, pwd: &str) -> Result<(String, bool), String> {
        let bytes = line.as_bytes();
        let mut out = String::with_capacity(line.len());
        let mut changed = false;
        let mut i = 0;
        let mut copied = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let (name, after, braced) = if bytes.get(i + 1) == Some(&b'{') {
                match line[i + 2..].find('}') {
                    Some(end) => (&line[i + 2..i + 2 + end], i + 3 + end, true),
                    None => {
                        i += 1;
                        continue;
                    }
                }
            } else {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let followed_ok = j == bytes.len() || bytes[j] == b' ' || bytes[j] == b'\t';
                if j == start || !followed_ok || bytes[start].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                (&line[start..j], j, false)
            };
            let value: Option<String> = if braced && name.starts_with('_') {
                let word = name.split_whitespace().next().unwrap_or("");
                match word {
                    "_PWD" => Some(pwd.to_string()),
                    "_INSTANCE" => self.opts.config_id.clone(),
                    "_HASH" => Some("#".into()),
                    "_BANG" => Some("!".into()),
                    "_RANDOM" | "_ENV" => {
                        return Err(format!("${{{word}}} is not supported by rvs"));
                    }
                    _ => self.defs.get(name).map(|d| d.value.clone()),
                }
            } else {
                self.defs.get(name).map(|d| d.value.clone())
            };
            match value {
                Some(v) => {
                    out.push_str(&line[copied..i]);
                    out.push_str(&v);
                    copied = after;
                    i = after;
                    changed = true;
                }
                None => i += 1,
            }
        }
        out.push_str(&line[copied..]);
        Ok((out, changed))
    }

    fn include(
        &mut self,
        kind: IncludeKind,
        pattern: &str,
        at: Pos,
        pwd: &str,
    ) -> Result<(), ConfigError> {
        let pattern = pattern
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or(pattern);
        if pattern.is_empty() {
            return Err(self.files.err(at, "include needs a file name or pattern"));
        }
        let base = Path::new(pwd);
        let per_alt = glob::expand(self.loader, base, pattern)
            .map_err(|r| self.files.err(at, format!("include {pattern}: {r}")))?;
        let wildcard = glob::has_wildcard(pattern);
        let braces = glob::has_braces(pattern);
        let total: usize = per_alt.iter().map(Vec::len).sum();
        if total == 0 {
            let must_match = match kind {
                // Stricter than keepalived's plain include (which ignores a
                // missing file): losing virtual servers silently is worse.
                IncludeKind::Plain | IncludeKind::Match => !wildcard,
                IncludeKind::Wildcard | IncludeKind::All => true,
                IncludeKind::Readable | IncludeKind::Brace => false,
            };
            if must_match {
                let shown = if Path::new(pattern).is_absolute() {
                    PathBuf::from(pattern)
                } else {
                    base.join(pattern)
                };
                return Err(self
                    .files
                    .err(at, format!("included file {} not found", shown.display())));
            }
        }
        if braces && matches!(kind, IncludeKind::Brace | IncludeKind::All) {
            let alts = glob::expand_braces(pattern).unwrap_or_default();
            for (alt, found) in alts.iter().zip(&per_alt) {
                if found.is_empty() {
                    return Err(self.files.err(
                        at,
                        format!("include {pattern}: brace alternative {alt} matches no file"),
                    ));
                }
            }
        }
        for path in per_alt.into_iter().flatten() {
            self.include_file(path, at)?;
        }
        Ok(())
    }

    fn include_file(&mut self, path: PathBuf, at: Pos) -> Result<(), ConfigError> {
        let canon = self
            .loader
            .canonicalize(&path)
            .unwrap_or_else(|_| normalize(&path));
        if let Some(i) = self.stack.iter().position(|p| *p == canon) {
            let mut chain: Vec<String> = self.stack_names[i..]
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            chain.push(path.display().to_string());
            return Err(self
                .files
                .err(at, format!("include cycle: {}", chain.join(" -> "))));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(self.files.err(
                at,
                format!(
                    "includes nested deeper than {MAX_INCLUDE_DEPTH} levels at {}",
                    path.display()
                ),
            ));
        }
        if self.files.distinct().len() >= MAX_FILES {
            return Err(self
                .files
                .err(at, format!("more than {MAX_FILES} configuration files")));
        }
        let text = self.loader.read_to_string(&path).map_err(|e| {
            self.files.err(
                at,
                format!("cannot read included file {}: {e}", path.display()),
            )
        })?;
        self.read_file(path, canon, &text)
    }

    fn tokenize(&mut self, line: &str, pos: Pos) -> Result<(), ConfigError> {
        let shared: Rc<str> = Rc::from(line);
        let mut col: u32 = 1;
        let mut iter = line.char_indices().peekable();
        while let Some(&(i, c)) = iter.peek() {
            let here = Pos { col, ..pos };
            if c.is_whitespace() {
                iter.next();
                col += 1;
                continue;
            }
            if c == '{' || c == '}' {
                iter.next();
                col += 1;
                self.toks.push(if c == '{' {
                    Tok::Open(here)
                } else {
                    Tok::Close(here)
                });
                continue;
            }
            if c == '"' {
                iter.next();
                col += 1;
                let mut text = String::new();
                let mut closed = None;
                for (j, d) in iter.by_ref() {
                    col += 1;
                    if d == '"' {
                        closed = Some(j);
                        break;
                    }
                    text.push(d);
                }
                let Some(end) = closed else {
                    return Err(self
                        .files
                        .err(here, "missing closing \" of a quoted string"));
                };
                self.push_word(Word {
                    text,
                    pos: here,
                    start: i,
                    end: end + 1,
                    line: shared.clone(),
                })?;
                continue;
            }
            let mut text = String::new();
            let mut end = i;
            while let Some(&(j, d)) = iter.peek() {
                if d.is_whitespace() || d == '{' || d == '}' || d == '"' {
                    break;
                }
                iter.next();
                col += 1;
                end = j + d.len_utf8();
                if d == '\\' {
                    if let Some(&(k, e)) = iter.peek() {
                        if e == '#' || e == '!' {
                            iter.next();
                            col += 1;
                            end = k + 1;
                            text.push(e);
                            continue;
                        }
                    }
                }
                text.push(d);
            }
            self.push_word(Word {
                text,
                pos: here,
                start: i,
                end,
                line: shared.clone(),
            })?;
        }
        self.toks.push(Tok::Eol);
        Ok(())
    }

    fn push_word(&mut self, w: Word) -> Result<(), ConfigError> {
        if self.toks.len() >= MAX_TOKENS {
            return Err(self.files.err(
                w.pos,
                format!("configuration has more than {MAX_TOKENS} words"),
            ));
        }
        self.toks.push(Tok::Word(w));
        Ok(())
    }
}

fn push_def_line(value: &mut String, piece: &str) {
    if !value.is_empty() {
        value.push('\n');
    }
    value.push_str(piece);
}

/// Column (1-based, in characters) of byte offset `at` of `line`.
fn col_of(line: &str, at: usize) -> u32 {
    (line[..at].chars().count() + 1).min(u32::MAX as usize) as u32
}

/// The line up to its comment: `#` or `!` outside double quotes and not
/// escaped with a backslash.
pub(crate) fn decomment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => quoted = !quoted,
            b'\\' if !quoted => {
                i += 2;
                continue;
            }
            b'#' | b'!' if !quoted => return line[..i].trim_end(),
            _ => {}
        }
        i += 1;
    }
    line.trim_end()
}

/// `$NAME=VALUE` (no space before '=').
fn definition(trimmed: &str) -> Option<(&str, &str)> {
    let rest = trimmed.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name, &rest[eq + 1..]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IncludeKind {
    Plain,
    Readable,
    Match,
    Wildcard,
    Brace,
    All,
}

fn include_directive(trimmed: &str) -> Option<(IncludeKind, &str)> {
    let word_end = trimmed.find([' ', '\t']).unwrap_or(trimmed.len());
    let kind = match &trimmed[..word_end] {
        "include" => IncludeKind::Plain,
        "includer" => IncludeKind::Readable,
        "includem" => IncludeKind::Match,
        "includew" => IncludeKind::Wildcard,
        "includeb" => IncludeKind::Brace,
        "includea" => IncludeKind::All,
        _ => return None,
    };
    Some((kind, &trimmed[word_end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryFiles;

    fn words(text: &str) -> Vec<String> {
        let fs = MemoryFiles::new();
        let lx = lex(
            &fs,
            Path::new("k.conf"),
            Some(text),
            &LoadOptions::default(),
        )
        .unwrap();
        lx.toks
            .iter()
            .map(|t| match t {
                Tok::Word(w) => w.text.clone(),
                Tok::Open(_) => "{".into(),
                Tok::Close(_) => "}".into(),
                Tok::Eol => ";".into(),
            })
            .collect()
    }

    #[test]
    fn braces_split_and_quotes_group() {
        assert_eq!(
            words("url{path \"/a b{}\" }# c\n"),
            vec!["url", "{", "path", "/a b{}", "}", ";"]
        );
        assert_eq!(
            words("a b ! comment\n\n  c\\#d"),
            vec!["a", "b", ";", "c#d", ";"]
        );
    }

    #[test]
    fn parameters_substitute() {
        assert_eq!(
            words("$P=240\n$Q=${P}0\npriority $P ${Q}x"),
            vec!["priority", "240", "2400x", ";"]
        );
        // Undefined names stay as written (and braces still split, as in keepalived).
        assert_eq!(
            words("a $UNDEF ${X}"),
            vec!["a", "$UNDEF", "$", "{", "X", "}", ";"]
        );
        assert_eq!(words("a ${_HASH}b"), vec!["a", "#b", ";"]);
    }

    #[test]
    fn multiline_parameters_expand_to_lines() {
        let text =
            "$RS= \\\nreal_server 10.0.0.${N} 80 { \\\n weight ${N} \\\n}\n$N=1\n$RS\n$N=2\n$RS\n";
        assert_eq!(
            words(text),
            vec![
                "real_server",
                "10.0.0.1",
                "80",
                "{",
                ";",
                "weight",
                "1",
                ";",
                "}",
                ";",
                "real_server",
                "10.0.0.2",
                "80",
                "{",
                ";",
                "weight",
                "2",
                ";",
                "}",
                ";"
            ]
        );
    }

    #[test]
    fn exploding_parameters_are_bounded() {
        let mut text = String::from("$L0= \\\na \\\nb\n");
        for i in 1..8 {
            text.push_str(&format!("$L{i}= \\\n"));
            for _ in 0..9 {
                text.push_str(&format!("$L{} \\\n", i - 1));
            }
            text.push_str(&format!("$L{}\n", i - 1));
        }
        text.push_str("$L7\n");
        let fs = MemoryFiles::new();
        let e = match lex(
            &fs,
            Path::new("k.conf"),
            Some(&text),
            &LoadOptions::default(),
        ) {
            Err(e) => e,
            Ok(_) => panic!("expected an error"),
        };
        assert!(e.reason.contains("more than"), "{}", e.reason);
    }

    #[test]
    fn self_reference_is_an_error() {
        let fs = MemoryFiles::new();
        let r = lex(
            &fs,
            Path::new("k.conf"),
            Some("$A=x $A\nv $A\n"),
            &LoadOptions::default(),
        );
        assert!(r.is_err());
    }

    #[test]
    fn conditionals_follow_config_id() {
        let fs = MemoryFiles::new();
        let opts = LoadOptions {
            config_id: Some("main".into()),
        };
        let lx = lex(
            &fs,
            Path::new("k"),
            Some("@main a\n@backup b\n@^main c\n@^x d\n"),
            &opts,
        )
        .unwrap();
        let got: Vec<_> = lx
            .toks
            .iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some((w.text.clone(), w.pos.col)),
                _ => None,
            })
            .collect();
        assert_eq!(got, vec![("a".to_string(), 7), ("d".to_string(), 5)]);
    }

    #[test]
    fn unterminated_quote_reports_its_column() {
        let fs = MemoryFiles::new();
        let e = match lex(
            &fs,
            Path::new("k.conf"),
            Some("ok\n  path \"abc\n"),
            &LoadOptions::default(),
        ) {
            Err(e) => e,
            Ok(_) => panic!("expected an error"),
        };
        assert_eq!((e.line, e.column), (2, 8));
    }
}
