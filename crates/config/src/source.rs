//! Where configuration text comes from: the real file system for `load`, or an
//! in-memory set of files for tests and fuzzing (so includes can be exercised
//! without touching the disk). Also the table of files read during one load,
//! which turns internal positions into [`Location`]s.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::{ConfigError, Location};

/// Largest configuration file accepted (keeps a stray include of a huge file
/// from exhausting memory).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// Read access to configuration files.
pub trait SourceLoader {
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    /// A name that is equal for equal files (cycle detection of includes).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    fn is_dir(&self, path: &Path) -> bool;
    fn exists(&self, path: &Path) -> bool;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(io::Error::other(format!(
                "larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(path)?;
        String::from_utf8(bytes).map_err(|_| io::Error::other("not valid UTF-8 text"))
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue; // names that are not UTF-8 cannot match a UTF-8 pattern
            };
            // Follow symlinks like glob(3) does.
            let is_dir = std::fs::metadata(entry.path())
                .map(|m| m.is_dir())
                .unwrap_or(false);
            out.push(DirEntry { name, is_dir });
        }
        Ok(out)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Files held in memory, keyed by normalized path. Directories exist
/// implicitly as the parents of files.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles {
    files: BTreeMap<PathBuf, String>,
}

impl MemoryFiles {
    pub fn new() -> MemoryFiles {
        MemoryFiles::default()
    }

    pub fn add(&mut self, path: impl AsRef<Path>, text: impl Into<String>) -> &mut Self {
        self.files.insert(normalize(path.as_ref()), text.into());
        self
    }

    pub fn with(mut self, path: impl AsRef<Path>, text: impl Into<String>) -> Self {
        self.add(path, text);
        self
    }
}

impl SourceLoader for MemoryFiles {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let p = normalize(path);
        match self.files.get(&p) {
            Some(t) => Ok(t.clone()),
            None if self.is_dir(&p) => Err(io::Error::other("is a directory")),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let d = normalize(dir);
        let mut out: Vec<DirEntry> = Vec::new();
        for f in self.files.keys() {
            let Ok(rest) = f.strip_prefix(&d) else {
                continue;
            };
            let mut comps = rest.components();
            let Some(Component::Normal(first)) = comps.next() else {
                continue;
            };
            let name = first.to_string_lossy().into_owned();
            let is_dir = comps.next().is_some();
            if !out.iter().any(|e| e.name == name) {
                out.push(DirEntry { name, is_dir });
            }
        }
        if out.is_empty() && !self.is_dir(&d) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(out)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let p = normalize(path);
        if self.files.contains_key(&p) || self.is_dir(&p) {
            Ok(p)
        } else {
            Err(io::Error::from(io::ErrorKind::NotFound))
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        let p = normalize(path);
        self.files.keys().any(|f| f != &p && f.starts_with(&p))
    }

    fn exists(&self, path: &Path) -> bool {
        let p = normalize(path);
        self.files.contains_key(&p) || self.is_dir(&p)
    }
}

/// Lexical normalization: drop `.`, resolve `..` against earlier components.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A position inside one of the files of a load (index into [`Files`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// The files read so far during one load, in reading order (a file included
/// twice appears twice, so that every position keeps its own name).
#[derive(Clone, Debug, Default)]
pub(crate) struct Files {
    paths: Vec<PathBuf>,
}

impl Files {
    pub fn add(&mut self, path: PathBuf) -> u32 {
        self.paths.push(path);
        (self.paths.len() - 1) as u32
    }

    pub fn path(&self, idx: u32) -> PathBuf {
        self.paths.get(idx as usize).cloned().unwrap_or_default()
    }

    pub fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.path(pos.file),
            line: pos.line,
            column: pos.col,
        }
    }

    pub fn err(&self, pos: Pos, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(self.loc(pos), reason)
    }

    /// Every distinct file, first occurrence order (the reload watch list).
    pub fn distinct(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for p in &self.paths {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}
