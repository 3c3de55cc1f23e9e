//! The git commands devloop runs, all of them read-only towards the repository: where the
//! work tree is, what the index holds, what is staged, and copying the index out.
//!
//! Every command inherits git's environment, so inside a hook `GIT_INDEX_FILE` (the
//! temporary index of `git commit -a` or `git commit PATH`) is the index that is read.
//! `GIT_OPTIONAL_LOCKS=0` keeps git from refreshing the index behind our back.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a git command could not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("{} is not in a git work tree", dir.display())]
    NotARepository { dir: PathBuf },
    #[error("cannot run git: {source}")]
    Spawn { source: std::io::Error },
    #[error("`git {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// A git work tree, seen from the directory devloop was started in.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    /// The top of the work tree.
    pub top: PathBuf,
    /// Where devloop started, relative to `top`: `""` or `a/b/`.
    pub prefix: String,
    start: PathBuf,
}

impl Repo {
    /// The work tree holding `start`.
    pub(crate) fn discover(start: &Path) -> Result<Repo, GitError> {
        let out =
            run(start, &["rev-parse", "--show-toplevel", "--show-prefix"]).map_err(
                |e| match e {
                    GitError::Failed { .. } => GitError::NotARepository {
                        dir: start.to_path_buf(),
                    },
                    other => other,
                },
            )?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        let (Some(top), prefix) = (lines.next(), lines.next().unwrap_or("")) else {
            return Err(GitError::NotARepository {
                dir: start.to_path_buf(),
            });
        };
        Ok(Repo {
            top: PathBuf::from(top),
            prefix: prefix.to_owned(),
            start: start.to_path_buf(),
        })
    }

    /// The directory git runs hooks from: `core.hooksPath` when set, else `.git/hooks`
    /// (of the main repository, for a linked work tree).
    pub(crate) fn hooks_dir(&self) -> Result<PathBuf, GitError> {
        let out = run(&self.start, &["rev-parse", "--git-path", "hooks"])?;
        let path = PathBuf::from(OsStr::from_bytes(trim_newline(&out)));
        Ok(self.start.join(path))
    }

    /// The paths, relative to `top`, whose staged content differs from HEAD (both sides of
    /// a rename; everything in the index before the first commit).
    pub(crate) fn staged_paths(&self) -> Result<Vec<String>, GitError> {
        let out = self.git(&[
            "diff",
            "--cached",
            "--name-only",
            "--no-renames",
            "--no-ext-diff",
            "-z",
        ])?;
        Ok(split_nul(&out))
    }

    /// Which of `paths` (relative to `top`) the index holds.
    pub(crate) fn indexed(&self, paths: &[String]) -> Result<Vec<String>, GitError> {
        let mut args = vec!["--literal-pathspecs", "ls-files", "--cached", "-z", "--"];
        args.extend(paths.iter().map(String::as_str));
        Ok(split_nul(&self.git(&args)?))
    }

    /// The staged content of `path` (relative to `top`).
    pub(crate) fn staged_blob(&self, path: &str) -> Result<Vec<u8>, GitError> {
        self.git(&["show", &format!(":{path}")])
    }

    /// Writes every file of the index under `dir`, as a checkout would (filters, modes,
    /// symbolic links). Neither the index nor the work tree changes.
    pub(crate) fn export_index(&self, dir: &Path) -> Result<(), GitError> {
        let mut prefix = dir.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        let mut arg = b"--prefix=".to_vec();
        arg.extend_from_slice(&prefix);
        let mut command = self.command();
        command.args(["checkout-index", "--all", "--force"]);
        command.arg(OsStr::from_bytes(&arg));
        output(command, "checkout-index --all --prefix=...").map(drop)
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let mut command = self.command();
        command.args(args);
        output(command, &args.join(" "))
    }

    fn command(&self) -> Command {
        base_command(&self.top)
    }
}

fn base_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null());
    command
}

/// Runs `git ARGS` in `dir` without taking optional locks; its stdout, or why it failed.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let mut command = base_command(dir);
    command.args(args);
    output(command, &args.join(" "))
}

fn output(mut command: Command, shown: &str) -> Result<Vec<u8>, GitError> {
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| GitError::Spawn { source })?;
    if !out.status.success() {
        return Err(GitError::Failed {
            command: shown.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_separated_names_are_split() {
        assert_eq!(split_nul(b"a b\0zones/bl\0"), ["a b", "zones/bl"]);
        assert!(split_nul(b"").is_empty());
    }
}
