//! File name patterns for keepalived's `include`: csh-style braces
//! (`{a,b}`), then `*`, `?` and `[...]` per path component, as glob(3) with
//! GLOB_BRACE does. Names starting with '.' only match a pattern that starts
//! with '.'. Results are sorted per brace alternative.

use std::path::{Path, PathBuf};

use crate::source::SourceLoader;

/// Most patterns one brace expression may expand to.
const MAX_BRACE_EXPANSIONS: usize = 1024;
/// Most files one include may match.
const MAX_MATCHES: usize = 4096;

/// True when `pattern` has glob metacharacters (outside braces' meaning).
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// True when `pattern` has a brace expression that expands.
pub fn has_braces(pattern: &str) -> bool {
    expand_braces(pattern).map(|v| v.len() > 1).unwrap_or(false)
}

/// Expand every `{a,b,...}` (nested allowed). Unbalanced braces stay literal.
pub fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out, 0)?;
    Ok(out)
}

fn expand_into(pattern: &str, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
    if depth > 32 {
        return Err("brace expressions nested too deeply".into());
    }
    let bytes = pattern.as_bytes();
    // Find the first '{' that has a matching '}'.
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'{' => {
                if let Some(close) = matching_brace(bytes, i) {
                    let inner = &pattern[i + 1..close];
                    let alternatives = split_top_level(inner);
                    let prefix = &pattern[..i];
                    let suffix = &pattern[close + 1..];
                    for alt in alternatives {
                        let candidate = format!("{prefix}{alt}{suffix}");
                        expand_into(&candidate, out, depth + 1)?;
                        if out.len() > MAX_BRACE_EXPANSIONS {
                            return Err(format!(
                                "brace expression expands to more than {MAX_BRACE_EXPANSIONS} patterns"
                            ));
                        }
                    }
                    return Ok(());
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push(pattern.to_string());
    Ok(())
}

fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn split_top_level(inner: &str) -> Vec<&str> {
    let bytes = inner.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&inner[start..]);
    parts
}

/// Does one path component match one pattern component?
pub fn component_matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    wildcard_match(&p, &n)
}

/// Iterative matcher: linear backtracking over the last `*` only, so hostile
/// patterns cannot take exponential time.
fn wildcard_match(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unterminated '[' is an ordinary character.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Match `c` against the class starting at `p[open] == '['`. Returns
/// (matched, index after the class) or None when the class is unterminated.
fn class_match(p: &[char], open: usize, c: char) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Matches of one include pattern, per brace alternative (in the order the
/// alternatives are written), each list sorted.
pub fn expand(
    loader: &dyn SourceLoader,
    base: &Path,
    pattern: &str,
) -> Result<Vec<Vec<PathBuf>>, String> {
    let mut per_alt = Vec::new();
    let mut total = 0usize;
    for alt in expand_braces(pattern)? {
        let path = if Path::new(&alt).is_absolute() {
            PathBuf::from(&alt)
        } else {
            base.join(&alt)
        };
        let matches = if has_wildcard(&alt) {
            let mut found = walk(loader, &path)?;
            found.sort();
            found
        } else if loader.exists(&path) {
            vec![path]
        } else {
            Vec::new()
        };
        total += matches.len();
        if total > MAX_MATCHES {
            return Err(format!("pattern matches more than {MAX_MATCHES} files"));
        }
        per_alt.push(matches);
    }
    Ok(per_alt)
}

fn walk(loader: &dyn SourceLoader, pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    let comps: Vec<_> = pattern.components().collect();
    for (idx, comp) in comps.iter().enumerate() {
        let last = idx + 1 == comps.len();
        let text = comp.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for dir in &current {
            if has_wildcard(&text) {
                let listing_dir = if dir.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    dir.clone()
                };
                let Ok(entries) = loader.read_dir(&listing_dir) else {
                    continue; // unreadable directories match nothing, as glob(3)
                };
                let mut names: Vec<_> = entries
                    .into_iter()
                    .filter(|e| component_matches(&text, &e.name))
                    .collect();
                names.sort_by(|a, b| a.name.cmp(&b.name));
                for e in names {
                    // Only files are included; directories only lead further.
                    if last && e.is_dir {
                        continue;
                    }
                    if !last && !e.is_dir {
                        continue;
                    }
                    next.push(dir.join(&e.name));
                }
            } else {
                let candidate = dir.join(comp.as_os_str());
                if last {
                    if loader.exists(&candidate) && !loader.is_dir(&candidate) {
                        next.push(candidate);
                    }
                } else {
                    next.push(candidate);
                }
            }
            if next.len() > MAX_MATCHES {
                return Err(format!("pattern matches more than {MAX_MATCHES} files"));
            }
        }
        current = next;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryFiles;

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(
            expand_braces("a{b,c{d,e}}f").unwrap(),
            vec!["abf", "acdf", "acef"]
        );
        assert_eq!(expand_braces("x{y").unwrap(), vec!["x{y"]);
        assert_eq!(expand_braces("{,a}").unwrap(), vec!["", "a"]);
        assert!(!has_braces("plain"));
        assert!(has_braces("{a,b}"));
    }

    #[test]
    fn wildcards_match_like_glob() {
        assert!(component_matches("*.conf", "vs1.conf"));
        assert!(!component_matches("*.conf", ".hidden.conf"));
        assert!(component_matches(".*.conf", ".hidden.conf"));
        assert!(component_matches("vs?.conf", "vs1.conf"));
        assert!(!component_matches("vs?.conf", "vs10.conf"));
        assert!(component_matches("vs[0-9].conf", "vs7.conf"));
        assert!(!component_matches("vs[!0-9].conf", "vs7.conf"));
        assert!(component_matches("vs[]x].conf", "vs].conf"));
        assert!(component_matches("a[b", "a[b"));
        assert!(component_matches("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaab"));
        assert!(!component_matches("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaa"));
        assert!(component_matches(r"a\*", "a*"));
    }

    #[test]
    fn expand_walks_directories_and_sorts() {
        let fs = MemoryFiles::new()
            .with("/etc/k/conf.d/b.conf", "")
            .with("/etc/k/conf.d/a.conf", "")
            .with("/etc/k/conf.d/sub/c.conf", "")
            .with("/etc/k/other/x.conf", "");
        let got = expand(&fs, Path::new("/etc/k"), "conf.d/*.conf").unwrap();
        assert_eq!(
            got,
            vec![vec![
                PathBuf::from("/etc/k/conf.d/a.conf"),
                PathBuf::from("/etc/k/conf.d/b.conf")
            ]]
        );
        let got = expand(&fs, Path::new("/"), "/etc/k/*/x.conf").unwrap();
        assert_eq!(got, vec![vec![PathBuf::from("/etc/k/other/x.conf")]]);
        let got = expand(&fs, Path::new("/etc/k"), "{conf.d/a,other/x,none}.conf").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], Vec::<PathBuf>::new());
    }
}
