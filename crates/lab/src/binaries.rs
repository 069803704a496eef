//! Finding the project's binaries (rvsd, rvsadm, rvs-lab) and expanding the command
//! templates the lab runs (`{rvsd} -i eth0 -i eth1 --socket {sock}`).

use std::collections::HashMap;
use std::env;
use std::path::{Path, PathBuf};

use crate::error::{LabError, Result};

/// A binary of this workspace the lab may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// The director daemon (env `RVSD_BIN`).
    Rvsd,
    /// The ipvsadm-compatible admin tool (env `RVSADM_BIN`).
    Rvsadm,
    /// This crate's binary (env `RVS_LAB_BIN`): UDP responder, tunnel agent.
    RvsLab,
}

impl Binary {
    /// File name of the binary.
    pub const fn file_name(self) -> &'static str {
        match self {
            Binary::Rvsd => "rvsd",
            Binary::Rvsadm => "rvsadm",
            Binary::RvsLab => "rvs-lab",
        }
    }

    /// Environment variable that names the binary's path explicitly.
    pub const fn env_var(self) -> &'static str {
        match self {
            Binary::Rvsd => "RVSD_BIN",
            Binary::Rvsadm => "RVSADM_BIN",
            Binary::RvsLab => "RVS_LAB_BIN",
        }
    }

    /// What to do when it is missing.
    fn hint(self) -> String {
        let package = match self {
            Binary::Rvsd => "rvsd",
            Binary::Rvsadm => "rvs-admin",
            Binary::RvsLab => "rvs-lab",
        };
        format!(
            "build it with `cargo build --release` (or `cargo build -p {package}`), or set {} to its path",
            self.env_var()
        )
    }
}

/// Directories searched, in order: the current executable's directory and its parent
/// (integration tests run from `target/<profile>/deps`), then the workspace's
/// `target/release` and `target/debug` (or `$CARGO_TARGET_DIR/...`).
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(exe) = env::current_exe() {
        if let Some(dir) = exe.parent() {
            dirs.push(dir.to_owned());
            if let Some(parent) = dir.parent() {
                dirs.push(parent.to_owned());
            }
        }
    }
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    dirs.push(target.join("release"));
    dirs.push(target.join("debug"));
    dirs
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The path of `binary`: from its environment variable when set (which must then name
/// an executable), else the first match in the search directories.
pub fn locate(binary: Binary) -> Result<PathBuf> {
    if let Some(path) = env::var_os(binary.env_var()) {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Ok(path);
        }
        return Err(LabError::NotFound {
            what: format!(
                "{} (${}={})",
                binary.file_name(),
                binary.env_var(),
                path.display()
            ),
            hint: "that path is not an executable file".to_owned(),
        });
    }
    search_dirs()
        .into_iter()
        .map(|d| d.join(binary.file_name()))
        .find(|p| is_executable(p))
        .ok_or_else(|| LabError::NotFound {
            what: binary.file_name().to_owned(),
            hint: binary.hint(),
        })
}

/// Expands a command template into arguments: split on whitespace, then each
/// `{placeholder}` replaced by `vars` (a value with spaces, like `{vip_args}`, becomes
/// several arguments when it stands alone). `{rvsd}`, `{rvsadm}` and `{rvs_lab}` are
/// located (see [`locate`]) only if used. An unknown placeholder is an error.
pub fn expand_template(template: &str, vars: &HashMap<&str, String>) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for word in template.split_whitespace() {
        if let Some(name) = word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            if !name.contains(['{', '}']) {
                let value = lookup(name, vars)?;
                args.extend(value.split_whitespace().map(str::to_owned));
                continue;
            }
        }
        args.push(expand_word(word, vars)?);
    }
    if args.is_empty() {
        return Err(LabError::invalid(format!(
            "empty command template {template:?}"
        )));
    }
    Ok(args)
}

fn lookup(name: &str, vars: &HashMap<&str, String>) -> Result<String> {
    if let Some(v) = vars.get(name) {
        return Ok(v.clone());
    }
    let binary = match name {
        "rvsd" => Binary::Rvsd,
        "rvsadm" => Binary::Rvsadm,
        "rvs_lab" => Binary::RvsLab,
        _ => {
            let mut known: Vec<&str> = vars.keys().copied().collect();
            known.extend(["rvsd", "rvsadm", "rvs_lab"]);
            known.sort_unstable();
            return Err(LabError::invalid(format!(
                "unknown placeholder {{{name}}} in a command template (known: {})",
                known.join(", ")
            )));
        }
    };
    Ok(locate(binary)?.display().to_string())
}

/// Replaces placeholders inside a word (`--socket={sock}`).
fn expand_word(word: &str, vars: &HashMap<&str, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(LabError::invalid(format!(
                "unclosed '{{' in template word {word:?}"
            )));
        };
        out.push_str(&lookup(&after[..close], vars)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<&'static str, String> {
        HashMap::from([
            ("sock", "/tmp/lab/rvsd.sock".to_owned()),
            (
                "vip_args",
                "--vip 192.0.2.10 --vip 2001:db8:a::10".to_owned(),
            ),
        ])
    }

    #[test]
    fn templates_expand_to_arguments() {
        let args =
            expand_template("/bin/true -i eth0 --socket {sock} {vip_args}", &vars()).unwrap();
        assert_eq!(
            args,
            [
                "/bin/true",
                "-i",
                "eth0",
                "--socket",
                "/tmp/lab/rvsd.sock",
                "--vip",
                "192.0.2.10",
                "--vip",
                "2001:db8:a::10"
            ]
        );
        let args = expand_template("x --socket={sock}", &vars()).unwrap();
        assert_eq!(args[1], "--socket=/tmp/lab/rvsd.sock");
    }

    proptest::proptest! {
        /// Templates without binary placeholders expand without panicking, and a
        /// template free of braces comes back word for word.
        #[test]
        fn any_template_expands_or_fails_cleanly(template in "[a-z{} ._/-]{0,60}") {
            let _ = expand_template(&template.replace("{rvs", "{x"), &vars());
            let plain: String = template.chars().filter(|c| *c != '{' && *c != '}').collect();
            match expand_template(&plain, &vars()) {
                Ok(args) => proptest::prop_assert_eq!(args.join(" "), plain.split_whitespace().collect::<Vec<_>>().join(" ")),
                Err(_) => proptest::prop_assert!(plain.trim().is_empty()),
            }
        }
    }

    #[test]
    fn unknown_or_broken_placeholders_are_errors() {
        let e = expand_template("x {nope}", &vars()).unwrap_err();
        assert!(e.to_string().contains("unknown placeholder {nope}"), "{e}");
        assert!(expand_template("x a{sock", &vars()).is_err());
        assert!(expand_template("   ", &vars()).is_err());
    }

    #[test]
    fn only_executable_files_count_and_missing_ones_say_how_to_build_them() {
        assert!(!is_executable(Path::new("/nonexistent/rvsadm")));
        assert!(!is_executable(Path::new("/")));
        assert!(is_executable(Path::new("/bin/sh")));
        let e = LabError::NotFound {
            what: "rvsd".into(),
            hint: Binary::Rvsd.hint(),
        };
        assert!(e.to_string().contains("cargo build --release"), "{e}");
        assert!(e.to_string().contains("RVSD_BIN"), "{e}");
    }
}
