//! Which file events matter to `watch`: a small synchronous filter, with everything slow
//! kept out of it.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::config::{Config, FILE_NAME};
use crate::paths::PathSet;

/// What a relevant change asks of the running service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// Data changed: the service can reload it.
    Reload,
    /// The image's recipe changed: start a fresh container.
    Restart,
    /// `devloop.toml` changed: read it again, plan again, start a fresh container.
    Reconfigure,
}

pub(crate) struct Filter {
    root: PathBuf,
    /// `[watch] paths`.
    paths: PathSet,
    ignore: Gitignore,
    /// Files devloop itself writes (construct outputs): a run must not trigger the next.
    derived: Vec<PathBuf>,
}

impl Filter {
    pub(crate) fn new(config: &Config) -> Filter {
        let root = config.root.clone();
        let mut builder = GitignoreBuilder::new(&root);
        // A missing or unreadable .gitignore simply adds no rules.
        let _ = builder.add(root.join(".gitignore"));
        for pattern in &config.watch.ignore {
            let _ = builder.add_line(None, pattern);
        }
        let ignore = builder.build().unwrap_or_else(|_| Gitignore::empty());
        let derived = config
            .construct
            .iter()
            .flat_map(|c| c.outputs.iter().map(|o| PathBuf::from(&o.output)))
            .collect();
        Filter {
            paths: config.watch_paths.clone(),
            root,
            ignore,
            derived,
        }
    }

    /// Whether a path relative to the project exists now.
    pub(crate) fn exists(&self, relative: &Path) -> bool {
        self.root.join(relative).exists()
    }

    /// Whether watch looks past a directory (relative to the project): not into `.git`
    /// nor into an ignored one.
    pub(crate) fn skips_dir(&self, relative: &Path) -> bool {
        relative.components().any(|c| c.as_os_str() == ".git")
            || self
                .ignore
                .matched_path_or_any_parents(relative, true)
                .is_ignore()
    }

    /// The change a path stands for, with the path relative to the project; `None` when
    /// it does not matter.
    pub(crate) fn classify(&self, path: &Path) -> Option<(Change, PathBuf)> {
        let relative = path.strip_prefix(&self.root).ok()?.to_path_buf();
        let name = relative.file_name()?.to_string_lossy().into_owned();
        if relative.components().any(|c| c.as_os_str() == ".git") || is_editor_dropping(&name) {
            return None;
        }
        if relative == Path::new(FILE_NAME) {
            return Some((Change::Reconfigure, relative));
        }
        if relative == Path::new("Dockerfile") {
            return Some((Change::Restart, relative));
        }
        if self.derived.contains(&relative) {
            return None;
        }
        let is_dir = path.is_dir();
        if self
            .ignore
            .matched_path_or_any_parents(&relative, is_dir)
            .is_ignore()
        {
            return None;
        }
        if !self.paths.selects(&relative, is_dir) {
            return None;
        }
        Some((Change::Reload, relative))
    }
}

/// Swap, backup and temporary files of editors (and of devloop's own atomic writes).
/// Editors that save by writing a new file and renaming it over the old one produce
/// events for these first; the rename onto the real name is the one that counts.
fn is_editor_dropping(name: &str) -> bool {
    name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || name.ends_with(".tmp")
        || name.contains(".devloop-")
        || name == ".DS_Store"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn filter(extra: &str) -> (tempfile::TempDir, Filter) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".gitignore"), "*.log\nbuild/\n").expect("write");
        let text = format!("[watch]\nignore = [\"*.bak\"]\n{extra}");
        let config = crate::config::parse(&dir.path().join(FILE_NAME), text).expect("config");
        let filter = Filter::new(&config);
        (dir, filter)
    }

    #[test]
    fn data_files_reload_config_reconfigures_droppings_are_ignored() {
        let (dir, filter) = filter("");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        let at = |p: &str| filter.classify(&root.join(p)).map(|(c, _)| c);
        assert_eq!(at("zones/bl"), Some(Change::Reload));
        assert_eq!(at("devloop.toml"), Some(Change::Reconfigure));
        assert_eq!(at("Dockerfile"), Some(Change::Restart));
        for ignored in [
            "zones/.bl.swp",
            "zones/bl~",
            "zones/4913",
            "zones/.#bl",
            ".git/index",
            "debug.log",
            "build/out",
            "zones/bl.bak",
            "conf/.x.devloop-12.tmp",
        ] {
            assert_eq!(at(ignored), None, "{ignored}");
        }
        assert_eq!(filter.classify(Path::new("/elsewhere/zones/bl")), None);
    }

    #[test]
    fn watched_paths_narrow_what_counts() {
        let (dir, filter) = filter("paths = [\"zones\"]\n");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        assert!(filter.classify(&root.join("zones/wl")).is_some());
        assert!(filter.classify(&root.join("README.md")).is_none());
        assert!(filter.classify(&root.join("devloop.toml")).is_some());
    }

    #[test]
    fn watched_paths_are_the_same_patterns_as_everywhere() {
        let (dir, filter) = filter("paths = [\"zones/*.zone\"]\n");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        assert!(filter.classify(&root.join("zones/a.zone")).is_some());
        assert!(filter.classify(&root.join("zones/sub/b.zone")).is_none());
        assert!(filter.classify(&root.join("zones/README")).is_none());
    }
}
