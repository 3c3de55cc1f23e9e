//! The build context: the files under the context directory that `.dockerignore` does not
//! exclude, packed into the tar archive the engine builds from.
//!
//! `.dockerignore` is not `.gitignore`: patterns are relative to the context root (`*.md`
//! matches only at the top, `**/*.md` everywhere), a pattern that matches a directory
//! excludes everything in it, `!` re-includes, and the last matching pattern wins. This is
//! the Docker CLI's matcher (moby's `patternmatcher`), reimplemented; the Dockerfile and
//! `.dockerignore` are always sent, as the CLI does, because the builder needs them.

use std::path::{Path, PathBuf};

use regex::Regex;

/// Why the context could not be packed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    #[error("{}: line {line}: bad pattern `{pattern}`: {reason}", path.display())]
    Pattern {
        path: PathBuf,
        line: usize,
        pattern: String,
        reason: String,
    },
    #[error("reading the build context {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One `.dockerignore` line, compiled.
#[derive(Debug)]
struct Pattern {
    regex: Regex,
    /// A `!pattern`: re-includes what it matches.
    exclusion: bool,
}

/// The patterns of a `.dockerignore`, in order.
#[derive(Debug, Default)]
pub(crate) struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parses `.dockerignore` text (`path` only names it in errors).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Ignore, ContextError> {
        let mut patterns = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() || cleaned == "." {
                continue;
            }
            let regex = Regex::new(&to_regex(&cleaned)).map_err(|e| ContextError::Pattern {
                path: path.to_path_buf(),
                line: index + 1,
                pattern: raw.to_owned(),
                reason: e.to_string(),
            })?;
            patterns.push(Pattern { regex, exclusion });
        }
        Ok(Ignore { patterns })
    }

    /// Adds `!path`: `path` is sent whatever the patterns say.
    pub(crate) fn keep(&mut self, path: &str) {
        let cleaned = clean(path);
        if let Ok(regex) = Regex::new(&to_regex(&cleaned)) {
            self.patterns.push(Pattern {
                regex,
                exclusion: true,
            });
        }
    }

    fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out: the last
    /// pattern that matches it, or one of its parent directories, decides.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exclusion matters only for what is excluded so far, and the other way round.
            if pattern.exclusion != excluded {
                continue;
            }
            let mut matched = pattern.regex.is_match(path);
            if !matched && parents.len() > 1 {
                matched =
                    (1..parents.len()).any(|n| pattern.regex.is_match(&parents[..n].join("/")));
            }
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }
}

/// Go's `filepath.Clean` for a relative pattern, without a leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !pattern.starts_with('/') {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The pattern as a regular expression, as moby's `patternmatcher` compiles it.
fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                // `**/` is `**`: the slash is eaten, so it also matches no directory at all.
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                }
                if i + 1 >= chars.len() {
                    out.push_str(".*");
                } else {
                    out.push_str("(.*/)?");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                i += 1;
                if let Some(next) = chars.get(i) {
                    out.push_str(&regex::escape(&next.to_string()));
                }
            }
            '[' | ']' | '-' | '^' => out.push(c),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

/// A packed context.
pub(crate) struct Packed {
    pub tar: Vec<u8>,
    pub files: usize,
}

/// Packs `dir` into a tar archive, leaving out what `.dockerignore` excludes, but always
/// sending `dockerfile` (relative to `dir`) and `.dockerignore`.
pub(crate) fn pack(dir: &Path, dockerfile: &str) -> Result<Packed, ContextError> {
    let ignore_path = dir.join(".dockerignore");
    let mut ignore = match std::fs::read_to_string(&ignore_path) {
        Ok(text) => Ignore::parse(&text, &ignore_path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
        Err(source) => {
            return Err(ContextError::Read {
                path: ignore_path,
                source,
            });
        }
    };
    ignore.keep(dockerfile);
    ignore.keep(".dockerignore");
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut files = 0;
    walk(dir, "", &ignore, &mut builder, &mut files)?;
    let tar = builder.into_inner().map_err(|source| ContextError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Packed { tar, files })
}

fn walk(
    dir: &Path,
    prefix: &str,
    ignore: &Ignore,
    builder: &mut tar::Builder<Vec<u8>>,
    files: &mut usize,
) -> Result<(), ContextError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError::Read { path, source }
    };
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<_, _>>()
        .map_err(read_error(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        let path = entry.path();
        let kind = entry.file_type().map_err(read_error(&path))?;
        let excluded = ignore.excludes(&relative);
        if kind.is_dir() {
            // Nothing under an excluded directory can come back without a `!` pattern.
            if excluded && !ignore.has_exclusions() {
                continue;
            }
            if !excluded {
                builder
                    .append_dir(&relative, &path)
                    .map_err(read_error(&path))?;
            }
            walk(&path, &format!("{relative}/"), ignore, builder, files)?;
        } else if (kind.is_file() || kind.is_symlink()) && !excluded {
            builder
                .append_path_with_name(&path, &relative)
                .map_err(read_error(&path))?;
            *files += 1;
        }
        // Sockets, pipes and devices have no place in an image build.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(text, Path::new(".dockerignore")).expect("valid patterns")
    }

    #[test]
    fn patterns_are_relative_to_the_context_root() {
        let rules = ignore("*.md\n# a comment\n/tmp\n");
        assert!(rules.excludes("README.md"));
        assert!(!rules.excludes("docs/README.md"), "unlike .gitignore");
        assert!(rules.excludes("tmp"));
        assert!(rules.excludes("tmp/a/b"), "a directory takes its contents");
        assert!(!rules.excludes("zones/bl"));
    }

    #[test]
    fn double_stars_cross_directories() {
        let rules = ignore("**/*.swp\nbuild/**\n");
        assert!(rules.excludes("a.swp"));
        assert!(rules.excludes("zones/.bl.swp"));
        assert!(rules.excludes("build/x/y"));
        assert!(!rules.excludes("builder"));
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        let rules = ignore("zones\n!zones/bl\n");
        assert!(rules.excludes("zones/wl"));
        assert!(!rules.excludes("zones/bl"));
        let rules = ignore("!zones/bl\nzones\n");
        assert!(rules.excludes("zones/bl"));
    }

    #[test]
    fn question_marks_and_classes() {
        let rules = ignore("file?.txt\nlog[0-9]\n");
        assert!(rules.excludes("file1.txt"));
        assert!(!rules.excludes("file10.txt"));
        assert!(rules.excludes("log7"));
        assert!(!rules.excludes("logx"));
    }

    #[test]
    fn the_dockerfile_and_dockerignore_are_always_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::write(dir.path().join(".dockerignore"), "*\n!zones\n").expect("write");
        std::fs::create_dir(dir.path().join("zones")).expect("mkdir");
        std::fs::write(dir.path().join("zones/bl"), "test\n").expect("write");
        std::fs::write(dir.path().join("secret.key"), "no\n").expect("write");
        let packed = pack(dir.path(), "Dockerfile").expect("packed");
        let mut archive = tar::Archive::new(packed.tar.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".dockerignore", "Dockerfile", "zones", "zones/bl"],
            "secret.key stays out"
        );
        assert_eq!(packed.files, 3);
    }
}
