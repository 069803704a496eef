//! Tokens to statements: a statement is the words of one line, optionally
//! followed by a `{ ... }` block of statements. As in keepalived, the `{` may
//! close the keyword's line or open the next one, and a block may sit on one
//! line (`url { path / }`). Braces must balance.

use crate::error::ConfigError;
use crate::keepalived::lexer::{Tok, Word};
use crate::source::{Files, Pos};

/// Deepest block nesting accepted (keepalived's deepest is 4).
const MAX_DEPTH: usize = 32;

#[derive(Clone, Debug)]
pub(crate) struct Stmt {
    /// Never empty: a statement starts with its keyword.
    pub words: Vec<Word>,
    pub block: Option<Block>,
}

#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub open: Pos,
    pub items: Vec<Stmt>,
}

impl Stmt {
    pub fn keyword(&self) -> &str {
        self.words.first().map(|w| w.text.as_str()).unwrap_or("")
    }

    pub fn pos(&self) -> Pos {
        self.words.first().map(|w| w.pos).unwrap_or_default()
    }

    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// Just after the last word (where a missing value would go).
    pub fn end_pos(&self) -> Pos {
        match self.words.last() {
            Some(w) => {
                let width = w.line.get(w.start..w.end).map_or(0, |s| s.chars().count());
                Pos {
                    col: w.pos.col.saturating_add(width as u32),
                    ..w.pos
                }
            }
            None => Pos::default(),
        }
    }

    /// The source text of the statement's line from the keyword to the last
    /// word (what keepalived re-reads for quoted and escaped values).
    pub fn raw(&self) -> &str {
        match (self.words.first(), self.words.last()) {
            (Some(a), Some(b)) if std::rc::Rc::ptr_eq(&a.line, &b.line) && a.start <= b.end => {
                a.line.get(a.start..b.end).unwrap_or("")
            }
            _ => "",
        }
    }
}

pub(crate) fn build(toks: &[Tok], files: &Files) -> Result<Vec<Stmt>, ConfigError> {
    let mut p = Builder { toks, i: 0, files };
    p.items(None, 0)
}

struct Builder<'a> {
    toks: &'a [Tok],
    i: usize,
    files: &'a Files,
}

impl Builder<'_> {
    /// Statements until the matching `}` (when `open` is Some) or the end.
    fn items(&mut self, open: Option<Pos>, depth: usize) -> Result<Vec<Stmt>, ConfigError> {
        let mut items: Vec<Stmt> = Vec::new();
        // Whether the last statement ended at a line end (so a '{' at the
        // start of the next line opens its block).
        let mut last_open_for_block = false;
        loop {
            let Some(tok) = self.toks.get(self.i) else {
                return match open {
                    Some(at) => Err(self
                        .files
                        .err(at, "unbalanced braces: this '{' is never closed")),
                    None => Ok(items),
                };
            };
            match tok {
                Tok::Eol => {
                    self.i += 1;
                }
                Tok::Close(at) => {
                    self.i += 1;
                    return match open {
                        Some(_) => Ok(items),
                        None => Err(self
                            .files
                            .err(*at, "unbalanced braces: '}' without a matching '{'")),
                    };
                }
                Tok::Open(at) => {
                    let at = *at;
                    let attach =
                        last_open_for_block && items.last().is_some_and(|s| s.block.is_none());
                    if !attach {
                        return Err(self.files.err(at, "'{' without a keyword before it"));
                    }
                    self.i += 1;
                    let block = self.block(at, depth)?;
                    if let Some(last) = items.last_mut() {
                        last.block = Some(block);
                    }
                    last_open_for_block = false;
                }
                Tok::Word(_) => {
                    let mut words = Vec::new();
                    while let Some(Tok::Word(w)) = self.toks.get(self.i) {
                        words.push(w.clone());
                        self.i += 1;
                    }
                    let mut stmt = Stmt { words, block: None };
                    last_open_for_block = false;
                    match self.toks.get(self.i) {
                        Some(Tok::Open(at)) => {
                            let at = *at;
                            self.i += 1;
                            stmt.block = Some(self.block(at, depth)?);
                        }
                        Some(Tok::Eol) => {
                            self.i += 1;
                            last_open_for_block = true;
                        }
                        _ => {}
                    }
                    items.push(stmt);
                }
            }
        }
    }

    fn block(&mut self, open: Pos, depth: usize) -> Result<Block, ConfigError> {
        if depth + 1 > MAX_DEPTH {
            return Err(self.files.err(
                open,
                format!("blocks nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let items = self.items(Some(open), depth + 1)?;
        Ok(Block { open, items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::lexer::lex;
    use crate::source::MemoryFiles;
    use crate::LoadOptions;
    use std::path::Path;

    fn tree(text: &str) -> Result<Vec<Stmt>, ConfigError> {
        let fs = MemoryFiles::new();
        let lx = lex(
            &fs,
            Path::new("t.conf"),
            Some(text),
            &LoadOptions::default(),
        )?;
        build(&lx.toks, &lx.files)
    }

    fn shape(items: &[Stmt]) -> String {
        let mut s = String::new();
        for it in items {
            s.push_str(it.keyword());
            if let Some(b) = &it.block {
                s.push('(');
                s.push_str(&shape(&b.items));
                s.push(')');
            }
            s.push(' ');
        }
        s
    }

    #[test]
    fn blocks_on_same_next_and_one_line() {
        let t = tree("a 1 {\n b\n}\nc\n{\n d { e }\n}\nf\n").unwrap();
        assert_eq!(shape(&t), "a(b ) c(d(e ) ) f ");
        assert_eq!(t[0].args()[0].text, "1");
    }

    #[test]
    fn raw_covers_the_statement() {
        let t = tree("notify_master \"/bin/x a\" root # c\n").unwrap();
        assert_eq!(t[0].raw(), "notify_master \"/bin/x a\" root");
    }

    #[test]
    fn unbalanced_braces_are_located() {
        let e = tree("a {\n b\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
        let e = tree("a\n}\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        let e = tree("{\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "a {".repeat(100);
        assert!(tree(&text).is_err());
    }
}
