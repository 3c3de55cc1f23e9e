//! Paths and path patterns in `devloop.toml`, which are relative to the project directory:
//! where a path may lead (inside the project, through symlinks too), and the one pattern
//! dialect of `[watch] paths`, `[hook] paths` and `each = { glob = ... }`: gitignore's.
//!
//! One dialect, because the same line in two tables must select the same files: a
//! pattern is a gitignore line (`*` stays within a directory, `**` crosses them, a
//! pattern with a slash is anchored to the project directory, one without matches at
//! any depth, a trailing `/` matches directories only, `!` excludes again), and it
//! selects what it matches and everything below it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// How many symlinks one path may pass through before it counts as a loop (Linux's own
/// limit, MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Why a path in the config does not stay inside the project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Escape {
    #[error("is an absolute path; paths here are relative to the project directory")]
    Absolute,
    #[error("is empty")]
    Empty,
    #[error("leads out of the project directory")]
    Climbs,
    #[error("leads out of the project directory through the symlink {link} -> {target}")]
    Symlink { link: String, target: String },
    #[error("passes through more than {MAX_LINKS} symlinks (a symlink loop?)")]
    Loop,
}

/// Where `relative` leads from the project directory `root`, following every symlink on
/// the way (those that exist; the rest of the path is taken as written); an error when
/// that is outside `root`. `root` should be canonical (no symlinks in it).
///
/// The kernel resolves a path the same way when the file is opened or written, so a path
/// that passes here cannot read or write outside the project unless the tree changes in
/// between.
pub(crate) fn resolve_inside(root: &Path, relative: &str) -> Result<PathBuf, Escape> {
    if relative.is_empty() {
        return Err(Escape::Empty);
    }
    let written = Path::new(relative);
    if written.has_root() {
        return Err(Escape::Absolute);
    }
    // `..` is applied to the path as it is built; that needs a root to climb from.
    let root = &std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let mut pending: VecDeque<OsString> = parts(written);
    let mut at = root.to_path_buf();
    let mut links = 0;
    // The first symlink that leads outside, to name it when the end is outside.
    let mut culprit: Option<(PathBuf, PathBuf)> = None;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&part);
        let target = match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::read_link(&next).ok(),
            _ => None,
        };
        let Some(target) = target else {
            at = next;
            continue;
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(Escape::Loop);
        }
        if target.has_root() {
            at = PathBuf::from("/");
        }
        if culprit.is_none() {
            let lexical = lexical_join(&at, &target);
            if !lexical.starts_with(root) {
                culprit = Some((next.clone(), target.clone()));
            }
        }
        let mut expanded = parts(&target);
        expanded.extend(pending);
        pending = expanded;
    }
    if at.starts_with(root) {
        return Ok(at);
    }
    Err(match culprit {
        Some((link, target)) => Escape::Symlink {
            link: link
                .strip_prefix(root)
                .unwrap_or(&link)
                .display()
                .to_string(),
            target: target.display().to_string(),
        },
        None => Escape::Climbs,
    })
}

/// The components of a path that move: names and `..` (a root and `.` do not).
fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// `base` joined with `path`, `..` applied without looking at the disk.
fn lexical_join(base: &Path, path: &Path) -> PathBuf {
    let mut out = if path.has_root() {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    for part in parts(path) {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    out
}

/// Patterns with gitignore's rules, relative to the project directory; each selects what
/// it matches and everything below that. An empty set selects nothing.
#[derive(Debug, Clone)]
pub(crate) struct PathSet {
    matcher: Gitignore,
    /// `.` (or `./`) is the whole project, which gitignore has no line for.
    everything: bool,
    /// Where a walk for the selected files can start: the literal directories the
    /// patterns are anchored in (`zones` for `zones/*.zone`); `None` for the whole tree.
    walk_from: Option<Vec<PathBuf>>,
}

/// A pattern that is not one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatternError {
    #[error("is empty")]
    Empty,
    #[error(
        "starts with `#`, which makes it a comment in gitignore's rules; write `\\#` for a file name that starts with #"
    )]
    Comment,
    #[error(
        "has a `..` component: patterns are relative to the project directory and cannot leave it"
    )]
    Climbs,
    #[error("is not a pattern: {0}")]
    Invalid(String),
}

impl PathSet {
    /// Every path of the project.
    pub(crate) fn everything() -> PathSet {
        PathSet {
            matcher: Gitignore::empty(),
            everything: true,
            walk_from: None,
        }
    }

    /// Compiles the patterns; the error names the index of the first bad one.
    pub(crate) fn new<S: AsRef<str>>(patterns: &[S]) -> Result<PathSet, (usize, PatternError)> {
        let mut builder = GitignoreBuilder::new(".");
        let mut everything = false;
        let mut walk_from = Some(Vec::new());
        for (index, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            let line = pattern.strip_prefix("./").unwrap_or(pattern);
            if pattern.trim().is_empty() {
                return Err((index, PatternError::Empty));
            }
            if line.starts_with('#') {
                return Err((index, PatternError::Comment));
            }
            let body = line.strip_prefix('!').unwrap_or(line);
            if body.split('/').any(|part| part == "..") {
                return Err((index, PatternError::Climbs));
            }
            if matches!(line, "." | "") {
                everything = true;
                continue;
            }
            builder
                .add_line(None, line)
                .map_err(|e| (index, PatternError::Invalid(e.to_string())))?;
            if !line.starts_with('!') {
                match (anchored_directory(line), walk_from.as_mut()) {
                    (Some(dir), Some(dirs)) => dirs.push(dir),
                    _ => walk_from = None,
                }
            }
        }
        let matcher = builder
            .build()
            .map_err(|e| (0, PatternError::Invalid(e.to_string())))?;
        if everything {
            walk_from = None;
        }
        Ok(PathSet {
            matcher,
            everything,
            walk_from,
        })
    }

    /// Whether `relative` (a path relative to the project) or a directory above it is
    /// selected. `is_dir` says whether `relative` itself is a directory.
    pub(crate) fn selects(&self, relative: &Path, is_dir: bool) -> bool {
        // The matcher insists on relative paths; an absolute one is no path of the project.
        if relative.has_root() {
            return false;
        }
        let relative = relative.strip_prefix("./").unwrap_or(relative);
        if relative.as_os_str().is_empty() {
            return self.everything;
        }
        match self.matcher.matched_path_or_any_parents(relative, is_dir) {
            ignore::Match::Ignore(_) => true,
            ignore::Match::Whitelist(_) => false,
            ignore::Match::None => self.everything,
        }
    }

    /// The files under `root` the set selects, as paths relative to `root`, sorted.
    /// Symlinks are not followed; `.git` is not looked into. Anchored patterns are only
    /// looked for where they are anchored, so `zones/*.zone` reads `zones` alone.
    pub(crate) fn files_under(&self, root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let starts: Vec<PathBuf> = match &self.walk_from {
            Some(dirs) => {
                let mut dirs = dirs.clone();
                dirs.sort();
                // A directory inside another is walked with it.
                dirs.dedup_by(|later, earlier| later.starts_with(earlier));
                dirs.iter()
                    .map(|d| root.join(d))
                    .filter(|d| d.exists())
                    .collect()
            }
            None => vec![root.to_path_buf()],
        };
        let Some((first, rest)) = starts.split_first() else {
            return out;
        };
        let mut walk = ignore::WalkBuilder::new(first);
        for start in rest {
            walk.add(start);
        }
        let walk = walk
            .standard_filters(false)
            .follow_links(false)
            .sort_by_file_name(std::ffi::OsStr::cmp)
            .filter_entry(|entry| entry.file_name() != ".git")
            .build();
        for entry in walk.flatten() {
            let is_file = entry.file_type().is_some_and(|t| t.is_file());
            if !is_file {
                continue;
            }
            if let Ok(relative) = entry.path().strip_prefix(root) {
                if self.selects(relative, false) {
                    out.push(relative.to_path_buf());
                }
            }
        }
        out
    }
}

/// The literal directory an anchored pattern lives in (`zones` for `zones/*.zone`, ``
/// for `/*.zone`); `None` when the pattern matches at any depth.
fn anchored_directory(line: &str) -> Option<PathBuf> {
    let trimmed = line.trim_end_matches('/');
    let anchored = trimmed.starts_with('/') || trimmed.contains('/');
    if !anchored {
        return None;
    }
    let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let literal = |part: &&&str| !part.contains(['*', '?', '[', '{', '\\']);
    let dirs = &parts[..parts.len().saturating_sub(1)];
    Some(dirs.iter().take_while(literal).copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PathSet {
        PathSet::new(patterns).expect("valid patterns")
    }

    #[test]
    fn a_star_stays_within_a_directory() {
        let zones = set(&["zones/*.zone"]);
        assert!(zones.selects(Path::new("zones/example.com.zone"), false));
        assert!(!zones.selects(Path::new("zones/a/b.zone"), false));
        assert!(!zones.selects(Path::new("zones/README"), false));
        let deep = set(&["zones/**/*.zone"]);
        assert!(deep.selects(Path::new("zones/a/b.zone"), false));
    }

    #[test]
    fn a_pattern_selects_what_is_below_what_it_matches() {
        let paths = set(&["zones", "bin/", "./Dockerfile", "conf*"]);
        assert!(paths.selects(Path::new("zones/bl"), false));
        assert!(paths.selects(Path::new("bin/start"), false));
        assert!(
            !paths.selects(Path::new("bin"), false),
            "bin/ is for directories"
        );
        assert!(paths.selects(Path::new("Dockerfile"), false));
        assert!(paths.selects(Path::new("conf.d/named.conf"), false));
        assert!(!paths.selects(Path::new("zonesx/bl"), false));
        assert!(!paths.selects(Path::new("Dockerfile.old"), false));
        // Without a slash, gitignore matches at any depth; with one, from the top only.
        assert!(paths.selects(Path::new("svc/zones/bl"), false));
        assert!(!set(&["/zones"]).selects(Path::new("svc/zones/bl"), false));
    }

    #[test]
    fn a_negation_takes_back_and_dot_is_everything() {
        let paths = set(&["zones", "!zones/scratch"]);
        assert!(paths.selects(Path::new("zones/bl"), false));
        assert!(!paths.selects(Path::new("zones/scratch/x"), false));
        assert!(set(&["."]).selects(Path::new("any/where"), false));
        assert!(!set(&[]).selects(Path::new("any/where"), false));
        assert!(!set(&["zones"]).selects(Path::new("/etc/zones"), false));
    }

    #[test]
    fn bad_patterns_are_named_by_index() {
        assert_eq!(
            PathSet::new(&["ok", ""]).err(),
            Some((1, PatternError::Empty))
        );
        assert_eq!(
            PathSet::new(&["../x"]).err(),
            Some((0, PatternError::Climbs))
        );
        assert_eq!(
            PathSet::new(&["#x"]).err(),
            Some((0, PatternError::Comment))
        );
        assert!(matches!(
            PathSet::new(&["a/{b"]).err(),
            Some((0, PatternError::Invalid(_)))
        ));
    }

    #[test]
    fn files_under_walks_sorted_and_skips_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in [
            "zones/b.zone",
            "zones/a.zone",
            "zones/sub/c.zone",
            ".git/x.zone",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "").expect("write");
        }
        let found = set(&["zones/*.zone"]).files_under(dir.path());
        assert_eq!(
            found,
            [PathBuf::from("zones/a.zone"), PathBuf::from("zones/b.zone")]
        );
        assert_eq!(set(&["*.zone"]).files_under(dir.path()).len(), 3);
        assert_eq!(
            set(&["zones/**/*.zone", "nowhere/*"])
                .files_under(dir.path())
                .len(),
            3
        );
        assert!(set(&["nowhere/*.zone"]).files_under(dir.path()).is_empty());
    }

    #[test]
    fn anchored_patterns_are_walked_from_their_directory() {
        assert_eq!(
            anchored_directory("zones/*.zone"),
            Some(PathBuf::from("zones"))
        );
        assert_eq!(anchored_directory("a/b/**/c"), Some(PathBuf::from("a/b")));
        assert_eq!(anchored_directory("/zones"), Some(PathBuf::new()));
        assert_eq!(anchored_directory("z*/x"), Some(PathBuf::new()));
        assert_eq!(anchored_directory("zones"), None);
        assert_eq!(anchored_directory("zones/"), None);
    }

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir_all(root.join("project/conf")).expect("mkdir");
        (dir, root)
    }

    #[test]
    fn paths_that_stay_inside_resolve() {
        let (_dir, base) = root();
        let project = base.join("project");
        assert_eq!(
            resolve_inside(&project, "conf/out"),
            Ok(project.join("conf/out"))
        );
        assert_eq!(
            resolve_inside(&project, "conf/../new/./x"),
            Ok(project.join("new/x"))
        );
        std::os::unix::fs::symlink("conf", project.join("link")).expect("symlink");
        assert_eq!(
            resolve_inside(&project, "link/out"),
            Ok(project.join("conf/out"))
        );
    }

    #[test]
    fn paths_that_leave_are_refused() {
        let (_dir, base) = root();
        let project = base.join("project");
        assert_eq!(resolve_inside(&project, "/tmp/x"), Err(Escape::Absolute));
        assert_eq!(resolve_inside(&project, "../../../x"), Err(Escape::Climbs));
        assert_eq!(
            resolve_inside(&project, "conf/../../x"),
            Err(Escape::Climbs)
        );
        assert_eq!(resolve_inside(&project, ""), Err(Escape::Empty));
        std::os::unix::fs::symlink(&base, project.join("up")).expect("symlink");
        assert!(matches!(
            resolve_inside(&project, "up/x"),
            Err(Escape::Symlink { link, .. }) if link == "up"
        ));
        // A dangling link that points outside is refused as well: writing through it
        // would create its target.
        std::os::unix::fs::symlink("/nonexistent/devloop-x", project.join("conf/out"))
            .expect("symlink");
        assert!(matches!(
            resolve_inside(&project, "conf/out"),
            Err(Escape::Symlink { .. })
        ));
        std::os::unix::fs::symlink("loop", project.join("loop")).expect("symlink");
        assert_eq!(resolve_inside(&project, "loop"), Err(Escape::Loop));
    }
}
