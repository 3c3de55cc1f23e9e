//! The directories of the mounted work tree as the warm container first saw them, by
//! identity (device and inode), so that watch can tell a directory that was removed or
//! replaced from one whose files changed.
//!
//! A process in the container may hold a directory of the mount: rbldnsd chroots into its
//! zone directory, a daemon keeps its working directory. Once that directory is removed
//! or replaced (`rm -rf zones` and a restore, `git checkout`, a tool that writes a new
//! tree and renames it into place), a reload makes the daemon read the old, deleted one;
//! only a fresh container sees the new. Files are another matter: a daemon opens them by
//! name on every reload, so an editor renaming a new file over the old one is a reload.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Filter;

/// More directories than this are not recorded: walking them before every container
/// start would cost more than it saves. (The rest is still watched, just not by identity.)
const MOST: usize = 10_000;

/// A directory's identity: device and inode. A removed directory's inode number can be
/// given to the next new one, but only once nothing holds the old one any more, and then
/// nothing in the container can be reading the old one either.
pub(crate) type Identity = (u64, u64);

pub(crate) struct Directories {
    root: PathBuf,
    /// Relative to the root (the root itself is the empty path), with what each was.
    seen: Vec<(PathBuf, Identity)>,
}

impl Directories {
    /// Records the project directory and every directory under it that watch looks at
    /// (not `.git`, not ignored), without following symbolic links.
    pub(crate) fn record(root: &Path, filter: &Filter) -> Directories {
        let mut seen = Vec::new();
        let mut todo = vec![PathBuf::new()];
        while let Some(relative) = todo.pop() {
            if seen.len() >= MOST {
                break;
            }
            let path = root.join(&relative);
            let Some(identity) = identity(&path) else {
                continue;
            };
            seen.push((relative.clone(), identity));
            // An unreadable directory has no subdirectories we could record.
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let child = relative.join(entry.file_name());
                if is_dir && !filter.skips_dir(&child) {
                    todo.push(child);
                }
            }
        }
        Directories {
            root: root.to_path_buf(),
            seen,
        }
    }

    /// The first recorded directory that is gone or is another directory now, relative
    /// to the project (the project directory itself is the empty path).
    pub(crate) fn replaced(&self) -> Option<&Path> {
        self.seen
            .iter()
            .find(|(relative, was)| identity(&self.root.join(relative)) != Some(*was))
            .map(|(relative, _)| relative.as_path())
    }
}

/// The identity of the directory at `path` (following a link to it, as a process in the
/// container would), `None` when there is none.
pub(crate) fn identity(path: &Path) -> Option<Identity> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_dir().then(|| (meta.dev(), meta.ino()))
}

/// How a note names a replaced directory.
pub(crate) fn describe(relative: &Path) -> String {
    if relative.as_os_str().is_empty() {
        "the project directory".to_owned()
    } else {
        format!("{}/", relative.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FILE_NAME;

    fn project() -> (tempfile::TempDir, PathBuf, Filter) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        for sub in ["zones/sub", "build/out", ".git/objects"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        std::fs::write(root.join("zones/bl"), "x\n").expect("write");
        std::fs::write(root.join(".gitignore"), "build/\n").expect("write");
        let config = crate::config::parse(&root.join(FILE_NAME), String::new()).expect("config");
        let filter = Filter::new(&config);
        (dir, root, filter)
    }

    #[test]
    fn a_file_rewritten_or_renamed_over_is_no_replaced_directory() {
        let (_dir, root, filter) = project();
        let dirs = Directories::record(&root, &filter);
        std::fs::write(root.join("zones/bl"), "y\n").expect("write");
        std::fs::write(root.join("zones/.bl.tmp"), "z\n").expect("write");
        std::fs::rename(root.join("zones/.bl.tmp"), root.join("zones/bl")).expect("rename");
        std::fs::create_dir(root.join("zones/new")).expect("mkdir");
        assert_eq!(dirs.replaced(), None);
    }

    #[test]
    fn a_directory_removed_and_restored_is_replaced() {
        let (_dir, root, filter) = project();
        let dirs = Directories::record(&root, &filter);
        // As the daemon's chroot does: a directory in use keeps its inode even when
        // removed, so the restored one cannot get the same number.
        let _held = std::fs::File::open(root.join("zones")).expect("open zones");
        std::fs::remove_dir_all(root.join("zones")).expect("rm -rf zones");
        assert_eq!(dirs.replaced(), Some(Path::new("zones")));
        std::fs::create_dir_all(root.join("zones/sub")).expect("restore");
        std::fs::write(root.join("zones/bl"), "x\n").expect("write");
        assert_eq!(dirs.replaced(), Some(Path::new("zones")));
    }

    #[test]
    fn a_directory_renamed_into_place_is_replaced_even_deep_down() {
        let (_dir, root, filter) = project();
        let dirs = Directories::record(&root, &filter);
        let _held = std::fs::File::open(root.join("zones/sub")).expect("open zones/sub");
        std::fs::create_dir(root.join("zones/sub.new")).expect("mkdir");
        std::fs::remove_dir(root.join("zones/sub")).expect("rmdir");
        std::fs::rename(root.join("zones/sub.new"), root.join("zones/sub")).expect("rename");
        assert_eq!(dirs.replaced(), Some(Path::new("zones/sub")));
    }

    #[test]
    fn ignored_directories_and_git_are_not_recorded() {
        let (_dir, root, filter) = project();
        let dirs = Directories::record(&root, &filter);
        let recorded: Vec<&Path> = dirs.seen.iter().map(|(p, _)| p.as_path()).collect();
        assert!(recorded.contains(&Path::new("")), "{recorded:?}");
        assert!(recorded.contains(&Path::new("zones/sub")), "{recorded:?}");
        for skipped in ["build", "build/out", ".git", ".git/objects"] {
            assert!(!recorded.contains(&Path::new(skipped)), "{recorded:?}");
        }
        std::fs::remove_dir_all(root.join("build")).expect("rm -rf build");
        std::fs::create_dir(root.join("build")).expect("mkdir build");
        assert_eq!(dirs.replaced(), None);
    }
}
