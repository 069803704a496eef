//! The state shared by keepalived's section parsers: the file table for
//! positions, the ignored keywords and warnings collected so far, and small
//! helpers that read a statement's arguments with typed, located errors.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{ConfigError, Ignored, Location, Warning};
use crate::keepalived::lexer::Word;
use crate::keepalived::tree::Stmt;
use crate::keywords::{self, Support};
use crate::model::{Format, Script};
use crate::script::split_words;
use crate::source::{Files, Pos};
use crate::values;

pub(crate) struct Ctx {
    pub files: Files,
    pub unknown: Vec<Ignored>,
    pub warnings: Vec<Warning>,
    /// Where `lvs_sync_daemon` was set (its instance is checked at the end).
    pub sync_daemon_pos: Option<Pos>,
}

/// Upper bound of keepalived timers given in seconds.
pub const TIMER_MAX: Duration = Duration::from_secs(values::MAX_TIMER_SECS);

impl Ctx {
    pub fn new(files: Files) -> Ctx {
        Ctx {
            files,
            unknown: Vec::new(),
            warnings: Vec::new(),
            sync_daemon_pos: None,
        }
    }

    pub fn loc(&self, pos: Pos) -> Location {
        self.files.loc(pos)
    }

    pub fn err(&self, pos: Pos, reason: impl Into<String>) -> ConfigError {
        self.files.err(pos, reason)
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        let at = self.loc(pos);
        self.warnings.push(Warning {
            at,
            message: message.into(),
        });
    }

    /// A keyword the section parser does not handle itself: ignored ones are
    /// recorded (their block skipped), unsupported ones and unknown ones fail.
    pub fn other(&mut self, sections: &[&'static str], st: &Stmt) -> Result<(), ConfigError> {
        let kw = st.keyword();
        for section in sections {
            let Some(info) = keywords::lookup(Format::Keepalived, section, kw) else {
                continue;
            };
            return match info.support {
                Support::Ignored => {
                    let at = self.loc(st.pos());
                    self.unknown.push(Ignored {
                        file: at.file,
                        line: at.line,
                        column: at.column,
                        section: (*section).to_string(),
                        keyword: kw.to_string(),
                    });
                    Ok(())
                }
                Support::Unsupported => {
                    let why = if info.note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", info.note)
                    };
                    Err(self.err(
                        st.pos(),
                        format!("'{kw}' in {section} is not supported by rvs{why}"),
                    ))
                }
                Support::Supported => Err(self.err(
                    st.pos(),
                    format!("internal: '{kw}' in {section} is listed as supported but not handled"),
                )),
            };
        }
        let section = sections.first().copied().unwrap_or("configuration");
        Err(self.err(st.pos(), format!("unknown keyword '{kw}' in {section}")))
    }

    /// Argument `i` (0 = the first after the keyword).
    pub fn arg<'s>(&self, st: &'s Stmt, i: usize) -> Result<&'s Word, ConfigError> {
        st.args().get(i).ok_or_else(|| {
            if i == 0 {
                self.err(st.end_pos(), format!("'{}' needs a value", st.keyword()))
            } else {
                self.err(
                    st.end_pos(),
                    format!("'{}' needs {} values", st.keyword(), i + 1),
                )
            }
        })
    }

    pub fn max_args(&self, st: &Stmt, n: usize) -> Result<(), ConfigError> {
        match st.args().get(n) {
            Some(w) => Err(self.err(
                w.pos,
                format!("unexpected '{}' after '{}'", w.text, st.keyword()),
            )),
            None => Ok(()),
        }
    }

    pub fn no_block(&self, st: &Stmt) -> Result<(), ConfigError> {
        match &st.block {
            Some(b) => Err(self.err(
                b.open,
                format!("'{}' does not take a {{ }} block", st.keyword()),
            )),
            None => Ok(()),
        }
    }

    pub fn block<'s>(&self, st: &'s Stmt) -> Result<&'s [Stmt], ConfigError> {
        match &st.block {
            Some(b) => Ok(&b.items),
            None => Err(self.err(
                st.end_pos(),
                format!("'{}' needs a {{ ... }} block", st.keyword()),
            )),
        }
    }

    /// Exactly one value, no block.
    pub fn single<'s>(&self, st: &'s Stmt) -> Result<&'s Word, ConfigError> {
        self.no_block(st)?;
        self.max_args(st, 1)?;
        self.arg(st, 0)
    }

    pub fn string(&self, st: &Stmt) -> Result<String, ConfigError> {
        Ok(self.single(st)?.text.clone())
    }

    pub fn uint_at(&self, st: &Stmt, i: usize, min: u64, max: u64) -> Result<u64, ConfigError> {
        let w = self.arg(st, i)?;
        values::uint(st.keyword(), &w.text, min, max).map_err(|r| self.err(w.pos, r))
    }

    pub fn uint(&self, st: &Stmt, min: u64, max: u64) -> Result<u64, ConfigError> {
        self.single(st)?;
        self.uint_at(st, 0, min, max)
    }

    pub fn u32(&self, st: &Stmt, min: u32, max: u32) -> Result<u32, ConfigError> {
        self.uint(st, min as u64, max as u64).map(|v| v as u32)
    }

    pub fn int_at(&self, st: &Stmt, i: usize, min: i64, max: i64) -> Result<i64, ConfigError> {
        let w = self.arg(st, i)?;
        values::int(st.keyword(), &w.text, min, max).map_err(|r| self.err(w.pos, r))
    }

    pub fn timer_at(
        &self,
        st: &Stmt,
        i: usize,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let w = self.arg(st, i)?;
        values::timer(st.keyword(), &w.text, min, max).map_err(|r| self.err(w.pos, r))
    }

    pub fn timer(&self, st: &Stmt, min: Duration, max: Duration) -> Result<Duration, ConfigError> {
        self.single(st)?;
        self.timer_at(st, 0, min, max)
    }

    /// Whole seconds as a Duration.
    pub fn seconds(&self, st: &Stmt, min: u64, max: u64) -> Result<Duration, ConfigError> {
        self.uint(st, min, max).map(Duration::from_secs)
    }

    /// `keyword` alone means true; `keyword BOOL` sets it.
    pub fn flag(&self, st: &Stmt) -> Result<bool, ConfigError> {
        self.no_block(st)?;
        self.max_args(st, 1)?;
        match st.args().first() {
            None => Ok(true),
            Some(w) => values::boolean(st.keyword(), &w.text).map_err(|r| self.err(w.pos, r)),
        }
    }

    /// A keyword that takes nothing at all.
    pub fn bare(&self, st: &Stmt) -> Result<(), ConfigError> {
        self.no_block(st)?;
        self.max_args(st, 0)
    }

    pub fn ip_at(&self, st: &Stmt, i: usize) -> Result<IpAddr, ConfigError> {
        let w = self.arg(st, i)?;
        values::ip(st.keyword(), &w.text).map_err(|r| self.err(w.pos, r))
    }

    pub fn ip(&self, st: &Stmt) -> Result<IpAddr, ConfigError> {
        self.single(st)?;
        self.ip_at(st, 0)
    }

    pub fn port_at(&self, st: &Stmt, i: usize, allow_zero: bool) -> Result<u16, ConfigError> {
        let w = self.arg(st, i)?;
        values::port(st.keyword(), &w.text, allow_zero).map_err(|r| self.err(w.pos, r))
    }

    /// `keyword COMMAND [USER [GROUP]]` re-read with keepalived's quoting.
    pub fn script(&self, st: &Stmt) -> Result<Script, ConfigError> {
        self.no_block(st)?;
        let words = split_words(st.raw(), false).map_err(|r| self.err(st.pos(), r))?;
        let command = match words.get(1) {
            Some(c) if !c.trim().is_empty() => c.clone(),
            _ => return Err(self.err(st.end_pos(), format!("'{}' needs a command", st.keyword()))),
        };
        if words.len() > 4 {
            let extra = st.args().get(3).map(|w| w.pos).unwrap_or(st.pos());
            return Err(self.err(
                extra,
                format!(
                    "'{}' takes a command, a user and a group; quote a command with parameters",
                    st.keyword()
                ),
            ));
        }
        let script = Script {
            command,
            user: words.get(2).cloned(),
            group: words.get(3).cloned(),
        };
        script.argv().map_err(|r| self.err(st.pos(), r))?;
        Ok(script)
    }

    /// The values of a `{ ... }` list block, every word of every line.
    pub fn list_block<'s>(&self, st: &'s Stmt) -> Result<Vec<&'s Word>, ConfigError> {
        let items = self.block(st)?;
        let mut out = Vec::new();
        for it in items {
            if let Some(b) = &it.block {
                return Err(self.err(b.open, "unexpected { } block in a list"));
            }
            out.extend(it.words.iter());
        }
        Ok(out)
    }
}
