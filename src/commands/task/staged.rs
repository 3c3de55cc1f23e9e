//! `--staged`: the index exported to a temporary directory and the project loaded from
//! there, so a run tests exactly what the next commit will hold. Unstaged edits and
//! untracked files are not in that copy; the work tree, the index and the stash are only
//! ever read (no stash-and-restore, so nothing can be lost).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{self, Config, ConfigError, FILE_NAME};
use crate::error::AppError;
use crate::git::Repo;
use crate::settings::Settings;

/// The name of every staged tree starts with this, followed by the PID and a counter.
const TREE_PREFIX: &str = "devloop-staged-";

/// A temporary copy of the index; removed when dropped, whatever ended the run.
#[derive(Debug)]
pub(crate) struct StagedTree {
    dir: PathBuf,
}

impl StagedTree {
    fn create() -> std::io::Result<StagedTree> {
        use std::os::unix::fs::DirBuilderExt;
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir();
        loop {
            let dir = base.join(format!(
                "{TREE_PREFIX}{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
            // World-readable like a checkout: daemons in images often drop to a user of
            // their own before they read their files.
            match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
                Ok(()) => return Ok(StagedTree { dir }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for StagedTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The project's `devloop.toml` as the index holds it.
#[derive(Debug)]
pub(crate) struct Located {
    pub repo: Repo,
    /// Its path relative to the top of the work tree.
    pub config: String,
}

impl Located {
    /// Its directory relative to the top of the work tree: `""` or `a/b`.
    pub(crate) fn project_dir(&self) -> &str {
        dir_of(&self.config)
    }

    /// Where it is in the work tree, for messages.
    pub(crate) fn work_tree_path(&self) -> PathBuf {
        self.repo.top.join(&self.config)
    }
}

/// Finds the staged `devloop.toml` of the project devloop was started in: the nearest one
/// at or above the start directory that the index holds (or `--file`, when given).
pub(crate) fn locate(settings: &Settings) -> Result<Located, AppError> {
    let start = &settings.start;
    let repo = Repo::discover(start)?;
    let wanted = match &settings.file {
        Some(file) => vec![relative_to_top(&repo, &settings.typed_path(file))?],
        None => candidates(&repo.prefix),
    };
    let indexed = repo.indexed(&wanted)?;
    if let Some(config) = wanted.into_iter().find(|w| indexed.contains(w)) {
        return Ok(Located { repo, config });
    }
    let in_work_tree = match &settings.file {
        Some(file) => Some(settings.typed_path(file)).filter(|p| p.is_file()),
        None => config::find(start).ok(),
    };
    Err(match in_work_tree {
        Some(path) if relative_to_top(&repo, &path).is_ok() => AppError::usage(
            format!(
                "{} is not staged: --staged tests what the index holds",
                path.display()
            ),
            Some(format!("stage it first: git add {}", path.display())),
        ),
        _ => AppError::usage(
            format!(
                "no {FILE_NAME} in the index at or above {}",
                start.display()
            ),
            Some(format!(
                "write one with `devloop init`, then `git add {FILE_NAME}`"
            )),
        ),
    })
}

/// A project loaded from the index: its config, whose root is the staged tree.
#[derive(Debug)]
pub(crate) struct Staged {
    pub config: Config,
    pub tree: StagedTree,
}

/// Exports the index and loads the project from the copy. The project keeps the name it
/// has in the work tree, so its containers are labelled as those of any other run.
pub(crate) fn load(settings: &Settings) -> Result<Staged, AppError> {
    let located = locate(settings)?;
    sweep_stale_trees();
    let tree = StagedTree::create().map_err(|source| AppError::Io {
        action: "creating a temporary directory for the staged tree".into(),
        source,
    })?;
    located.repo.export_index(tree.path())?;
    let path = tree.path().join(&located.config);
    let mut config = config::load(&path).map_err(|e| staged_error(e, &located))?;
    let tree_root = std::fs::canonicalize(tree.path()).unwrap_or_else(|_| tree.path().into());
    let tree_name = tree_root.file_name().map(|n| n.to_string_lossy());
    if config.root == tree_root && tree_name.as_deref() == Some(config.project.as_str()) {
        if let Some(name) = located.repo.top.file_name() {
            config.project = name.to_string_lossy().into_owned();
        }
    }
    Ok(Staged { config, tree })
}

/// The staged `devloop.toml`, parsed without exporting anything (for the hook's decision
/// whether to run at all). Its root is the work tree's directory: read nothing through it.
pub(crate) fn read_config(located: &Located) -> Result<Config, AppError> {
    let blob = located.repo.staged_blob(&located.config)?;
    let source = String::from_utf8(blob).map_err(|_| {
        AppError::usage(
            format!(
                "the staged {} is not UTF-8 text",
                located.work_tree_path().display()
            ),
            None,
        )
    })?;
    config::parse(&located.work_tree_path(), source).map_err(|e| staged_error(e, located))
}

/// A config error names the work tree's file (the copy is gone when the user reads it),
/// and says that the staged version is the one at fault.
fn staged_error(e: ConfigError, located: &Located) -> AppError {
    let path = PathBuf::from(format!("{} (staged)", located.work_tree_path().display()));
    match e {
        ConfigError::Invalid(mut invalid) => {
            invalid.path = path;
            ConfigError::Invalid(invalid).into()
        }
        ConfigError::Read { source, .. } => ConfigError::Read { path, source }.into(),
        other => other.into(),
    }
}

/// `a/b/devloop.toml` -> `a/b`; `devloop.toml` -> `""`.
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `a/b/` -> `a/b/devloop.toml`, `a/devloop.toml`, `devloop.toml`: nearest first.
fn candidates(prefix: &str) -> Vec<String> {
    let mut dir = prefix.trim_end_matches('/').to_owned();
    let mut out = Vec::new();
    loop {
        if dir.is_empty() {
            out.push(FILE_NAME.to_owned());
            return out;
        }
        out.push(format!("{dir}/{FILE_NAME}"));
        dir = dir
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent)
            .to_owned();
    }
}

fn relative_to_top(repo: &Repo, path: &Path) -> Result<String, AppError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
    let full = match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    };
    full.strip_prefix(&repo.top)
        .map(|rel| rel.to_string_lossy().into_owned())
        .map_err(|_| {
            AppError::usage(
                format!(
                    "{} is outside the git work tree {}",
                    path.display(),
                    repo.top.display()
                ),
                Some("--staged tests what the repository's index holds".into()),
            )
        })
}

/// Removes the staged trees of devloop processes that are gone (killed before their
/// own cleanup could run). Another user's trees, and live processes', are left alone.
fn sweep_stale_trees() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TREE_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if pid > 0 && !process_exists(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_nearest_first() {
        assert_eq!(candidates(""), ["devloop.toml"]);
        assert_eq!(
            candidates("a/b/"),
            ["a/b/devloop.toml", "a/devloop.toml", "devloop.toml"]
        );
    }

    #[test]
    fn a_staged_tree_is_removed_when_dropped() {
        let tree = StagedTree::create().expect("create");
        let path = tree.path().to_path_buf();
        std::fs::write(path.join("f"), "x").expect("write");
        assert!(path.is_dir());
        drop(tree);
        assert!(!path.exists());
    }

    #[test]
    fn project_dir_is_the_config_directory() {
        assert_eq!(dir_of("devloop.toml"), "");
        assert_eq!(dir_of("svc/dns/devloop.toml"), "svc/dns");
    }
}
