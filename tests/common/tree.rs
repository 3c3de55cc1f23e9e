//! The files of a test's work tree: read and edited as a user would ([`WorkTree`]),
//! copied from an example ([`copy_tree`]), and recorded whole ([`snapshot`]) to show that
//! a run changed nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The files of a test's work tree (a project, a git repository), read and edited as a
/// user would; every edit fails the test, at the test's line, when it cannot be made.
pub trait WorkTree {
    /// The top of the work tree.
    fn path(&self) -> &Path;

    fn file(&self, relative: &str) -> PathBuf {
        self.path().join(relative)
    }

    #[track_caller]
    fn read(&self, relative: &str) -> String {
        match std::fs::read_to_string(self.file(relative)) {
            Ok(contents) => contents,
            Err(e) => panic!("read {relative}: {e}"),
        }
    }

    #[track_caller]
    fn write(&self, relative: &str, contents: &str) -> &Self {
        let path = self.file(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        if let Err(e) = std::fs::write(&path, contents) {
            panic!("write {relative}: {e}");
        }
        self
    }

    #[track_caller]
    fn append(&self, relative: &str, text: &str) -> &Self {
        let mut contents = self.read(relative);
        if !contents.is_empty() && !contents.ends_with('\n') {
            contents.push('\n');
        }
        contents.push_str(text);
        self.write(relative, &contents)
    }

    /// Replaces the one occurrence of `old` in a file; fails the test when there is none.
    #[track_caller]
    fn replace(&self, relative: &str, old: &str, new: &str) -> &Self {
        let contents = self.read(relative);
        assert_eq!(
            contents.matches(old).count(),
            1,
            "{relative} should hold {old:?} exactly once:\n{contents}"
        );
        self.write(relative, &contents.replacen(old, new, 1))
    }

    /// Replaces the whole line that starts with `start`.
    #[track_caller]
    fn replace_line(&self, relative: &str, start: &str, new: &str) -> &Self {
        let contents = self.read(relative);
        let matching: Vec<&str> = contents.lines().filter(|l| l.starts_with(start)).collect();
        assert_eq!(
            matching.len(),
            1,
            "{relative} should have one line starting with {start:?}:\n{contents}"
        );
        let old = matching[0].to_owned();
        self.replace(relative, &old, new)
    }

    /// The 1-based number of the line of a file that starts with `start`.
    #[track_caller]
    fn line_of(&self, relative: &str, start: &str) -> usize {
        let Some(index) = self
            .read(relative)
            .lines()
            .position(|l| l.starts_with(start))
        else {
            panic!("no line of {relative} starts with {start:?}");
        };
        index + 1
    }
}

/// Copies a directory tree into the existing directory `to`, keeping the modes (the
/// examples' scripts are executable).
#[track_caller]
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read the example") {
        let entry = entry.expect("a directory entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
            let mode = entry.metadata().expect("metadata").permissions();
            std::fs::set_permissions(&target, mode).expect("chmod");
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            // fs::copy keeps the permissions (bin/* stay executable).
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file, directory and link under `root`: path -> (mode, mtime, contents). Only
/// files record their mtime (directories and links record 0); a link's contents are its
/// target.
#[track_caller]
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, i64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    snapshot_into(root, root, &mut out);
    out
}

#[track_caller]
fn snapshot_into(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u32, i64, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let relative = path.strip_prefix(root).expect("under root").to_path_buf();
        if meta.is_dir() {
            out.insert(relative, (meta.mode(), 0, Vec::new()));
            snapshot_into(root, &path, out);
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("readlink");
            out.insert(
                relative,
                (
                    meta.mode(),
                    0,
                    target.as_os_str().as_encoded_bytes().to_vec(),
                ),
            );
        } else {
            let contents = std::fs::read(&path).expect("read");
            out.insert(
                relative,
                (
                    meta.mode(),
                    meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    contents,
                ),
            );
        }
    }
}
