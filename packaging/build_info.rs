//! Build script shared by rvsd and rvsadm (their Cargo.toml point here): records the
//! git commit and the compiler for `--version`, as the environment variables
//! `RVS_BUILD_COMMIT` and `RVS_BUILD_RUSTC` of the compiled crate.
//!
//! The commit comes from `RVS_BUILD_COMMIT` when set (builds from a source tarball),
//! otherwise from `git rev-parse` ("unknown" outside a checkout). The script runs
//! again when HEAD moves, so the reported commit follows the checkout.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=RVS_BUILD_COMMIT");
    let commit = match std::env::var("RVS_BUILD_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => run("git", &["rev-parse", "--short=12", "HEAD"], &dir)
            .unwrap_or_else(|| "unknown".to_string()),
    };
    // Follow HEAD: the HEAD file (branch switches), the branch's ref (commits) and
    // packed-refs. Only files that exist, or cargo would rerun the script every build.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(r) = run("git", &["symbolic-ref", "-q", "HEAD"], &dir) {
        watch.push(r);
    }
    for name in watch {
        if let Some(p) = run("git", &["rev-parse", "--git-path", &name], &dir) {
            let p = dir.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let rustc = run(&rustc, &["--version"], &dir).unwrap_or_else(|| "rustc unknown".to_string());
    println!("cargo:rustc-env=RVS_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=RVS_BUILD_RUSTC={rustc}");
}
