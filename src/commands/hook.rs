//! The git pre-commit hook: installing it, removing it, and deciding what it runs: the
//! `[hook]` task on the staged tree (see `staged`), or nothing at all when the staged
//! change touches none of the `[hook]` paths.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::config::{self, FILE_NAME};
use crate::error::AppError;
use crate::events::{Event, HookInstalled, HookRemoved, ProjectEvent};
use crate::git::Repo;
use crate::paths::PathSet;
use crate::settings::Settings;
use crate::{exit, fsutil, plan};

use super::task::staged;

/// The line that marks a hook as devloop's: only such a hook is replaced or removed
/// without `--force`.
const MARKER: &str = "# devloop pre-commit hook: written by `devloop hook install`";

/// Where `install --force` keeps the hook it replaces; `uninstall` puts it back.
const BACKUP: &str = "pre-commit.before-devloop";

/// `devloop hook install`.
pub(crate) fn install(settings: &Settings, force: bool) -> Result<i32, AppError> {
    let start = &settings.start;
    let repo = Repo::discover(start)?;
    let config_path = match &settings.file {
        Some(file) => settings.typed_path(file),
        None => config::find(start).map_err(|_| {
            AppError::usage(
                format!("no {FILE_NAME} in {} or above it", start.display()),
                Some("write one with `devloop init` first".into()),
            )
        })?,
    };
    let config = config::load(&config_path)?;
    plan::find_task(&config, config.hook.task())?;
    let relative = config
        .root
        .join(FILE_NAME)
        .strip_prefix(&repo.top)
        .map(Path::to_path_buf)
        .map_err(|_| {
            AppError::usage(
                format!(
                    "{} is outside the git work tree {}",
                    config_path.display(),
                    repo.top.display()
                ),
                None,
            )
        })?;
    // Hooks run at the top of the work tree: point the hook at the project from there.
    let mut args: Vec<Vec<u8>> = Vec::new();
    if settings.file.is_some() {
        args.push(b"-f".to_vec());
        args.push(relative.as_os_str().as_bytes().to_vec());
    } else if let Some(dir) = relative.parent().filter(|d| !d.as_os_str().is_empty()) {
        args.push(b"-C".to_vec());
        args.push(dir.as_os_str().as_bytes().to_vec());
    }
    let exe = std::env::current_exe().map_err(|source| AppError::Io {
        action: "finding devloop's own path".into(),
        source,
    })?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let text = script(&exe, &args);

    let hooks = repo.hooks_dir()?;
    let hook = hooks.join("pre-commit");
    let backup = hooks.join(BACKUP);
    let mut replaced = false;
    match std::fs::read(&hook) {
        Ok(existing) if is_ours(&existing) => {}
        Ok(_) if !force => {
            return Err(AppError::usage(
                format!(
                    "{} exists and was not written by devloop; left as is",
                    hook.display()
                ),
                Some(format!(
                    "add `devloop hook run` to it by hand, or replace it with `devloop hook install --force` (it is kept as {BACKUP})"
                )),
            ));
        }
        Ok(_) => {
            if backup.exists() {
                return Err(AppError::usage(
                    format!("{} exists already; left as is", backup.display()),
                    Some("move it away, then install again".into()),
                ));
            }
            std::fs::rename(&hook, &backup).map_err(|source| AppError::Io {
                action: format!("keeping {} as {}", hook.display(), backup.display()),
                source,
            })?;
            replaced = true;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(AppError::Io {
                action: format!("reading {}", hook.display()),
                source,
            });
        }
    }
    std::fs::create_dir_all(&hooks)
        .and_then(|()| fsutil::write_atomic_with_mode(&hook, &text, Some(0o755)))
        .map_err(|source| AppError::Io {
            action: format!("writing {}", hook.display()),
            source,
        })?;
    settings.report(Event::Project(&ProjectEvent::HookInstalled(
        HookInstalled {
            hook: hook.display().to_string(),
            task: config.hook.task().to_owned(),
            kept: replaced.then(|| backup.display().to_string()),
        },
    )))?;
    Ok(exit::PASSED)
}

/// `devloop hook uninstall`: removes the hook if devloop wrote it, and puts back the one
/// `install --force` replaced.
pub(crate) fn uninstall(settings: &Settings) -> Result<i32, AppError> {
    let repo = Repo::discover(&settings.start)?;
    let hooks = repo.hooks_dir()?;
    let hook = hooks.join("pre-commit");
    match std::fs::read(&hook) {
        Ok(existing) if is_ours(&existing) => {}
        Ok(_) => {
            return Err(AppError::usage(
                format!("{} was not written by devloop; left as is", hook.display()),
                None,
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::usage(
                format!(
                    "no pre-commit hook in {}; nothing to remove",
                    hooks.display()
                ),
                None,
            ));
        }
        Err(source) => {
            return Err(AppError::Io {
                action: format!("reading {}", hook.display()),
                source,
            });
        }
    }
    let io = |action: String| move |source| AppError::Io { action, source };
    std::fs::remove_file(&hook).map_err(io(format!("removing {}", hook.display())))?;
    let backup = hooks.join(BACKUP);
    let restored = backup.exists();
    if restored {
        std::fs::rename(&backup, &hook).map_err(io(format!(
            "restoring {} from {}",
            hook.display(),
            backup.display()
        )))?;
    }
    settings.report(Event::Project(&ProjectEvent::HookRemoved(HookRemoved {
        hook: hook.display().to_string(),
        restored: restored.then(|| backup.display().to_string()),
    })))?;
    Ok(exit::PASSED)
}

/// What `devloop hook run` does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing the hook watches is staged: say this, start nothing.
    Skip(String),
    /// Run this task on the staged tree.
    Run(String),
}

/// Reads the staged `devloop.toml` and the staged change, without exporting anything.
pub(crate) fn decide(settings: &Settings) -> Result<Decision, AppError> {
    let located = staged::locate(settings)?;
    let config = staged::read_config(&located)?;
    let task = config.hook.task().to_owned();
    plan::find_task(&config, &task)?;
    let paths = config.hook.paths.as_deref();
    let changed = located.repo.staged_paths()?;
    let dir = located.project_dir();
    if touches(config.hook_paths.as_ref(), dir, &changed) {
        return Ok(Decision::Run(task));
    }
    let watched = match paths {
        Some(paths) => paths
            .iter()
            .map(String::as_str)
            .chain([FILE_NAME])
            .map(|p| join(dir, p))
            .collect::<Vec<_>>()
            .join(", "),
        None if dir.is_empty() => ".".to_owned(),
        None => format!("{dir}/"),
    };
    Ok(Decision::Skip(format!(
        "devloop: no staged change under {watched}; skipping"
    )))
}

/// Whether a staged path (relative to the top of the work tree) is one the hook watches:
/// inside the project directory `dir`, and `devloop.toml` or selected by `paths` (all of
/// the project when there are none).
fn touches(paths: Option<&PathSet>, dir: &str, changed: &[String]) -> bool {
    changed.iter().any(|path| {
        let relative = if dir.is_empty() {
            Some(path.as_str())
        } else {
            path.strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
        };
        let Some(relative) = relative else {
            return false;
        };
        // Git lists files only, so the path itself is no directory.
        relative == FILE_NAME || paths.is_none_or(|paths| paths.selects(Path::new(relative), false))
    })
}

fn join(dir: &str, path: &str) -> String {
    if dir.is_empty() {
        path.to_owned()
    } else {
        format!("{dir}/{path}")
    }
}

fn is_ours(hook: &[u8]) -> bool {
    hook.split(|b| *b == b'\n')
        .any(|line| line == MARKER.as_bytes())
}

/// The hook: devloop at the path that installed it, else the one on PATH.
fn script(exe: &Path, args: &[Vec<u8>]) -> Vec<u8> {
    let exe = quote(exe.as_os_str().as_bytes());
    let mut command = b"exec \"$devloop\"".to_vec();
    for arg in args {
        command.push(b' ');
        command.extend(quote(arg));
    }
    command.extend_from_slice(b" hook run\n");
    let mut text = format!(
        "#!/bin/sh\n\
         {MARKER}\n\
         # (`devloop hook uninstall` removes it). Before each commit it runs the [hook] task\n\
         # of devloop.toml (default: test) on what is staged: the index is exported to a\n\
         # temporary directory and mounted, so unstaged edits and untracked files can neither\n\
         # pass nor fail the commit. It skips the run when no staged change touches the\n\
         # [hook] paths. Skip it once with `git commit --no-verify`.\n"
    )
    .into_bytes();
    text.extend_from_slice(b"devloop=");
    text.extend_from_slice(&exe);
    text.extend_from_slice(
        b"\nif [ ! -x \"$devloop\" ]; then\n  \
          devloop=$(command -v devloop) || {\n    \
          echo \"devloop pre-commit hook: devloop is neither at $devloop nor on PATH; install it, or commit with --no-verify\" >&2\n    \
          exit 1\n  \
          }\nfi\n",
    );
    text.extend(command);
    text
}

/// A word for sh: single-quoted, with each `'` written as `'\''`.
fn quote(word: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn set(patterns: &[&str]) -> PathSet {
        PathSet::new(patterns).expect("patterns")
    }

    #[test]
    fn a_change_under_a_watched_path_runs_the_hook() {
        let paths = set(&["zones", "bin/", "./Dockerfile"]);
        let yes = |changed: &[&str]| touches(Some(&paths), "", &strings(changed));
        assert!(yes(&["zones/bl"]));
        assert!(yes(&["README", "bin/start"]));
        assert!(yes(&["Dockerfile"]));
        assert!(yes(&["devloop.toml"]));
        assert!(!yes(&["README"]));
        assert!(!yes(&["zonesx/bl", "Dockerfile.old"]));
        assert!(!yes(&[]));
    }

    #[test]
    fn paths_are_relative_to_the_project_directory() {
        let paths = set(&["/zones"]);
        let yes = |changed: &[&str]| touches(Some(&paths), "svc/rbl", &strings(changed));
        assert!(yes(&["svc/rbl/zones/bl"]));
        assert!(yes(&["svc/rbl/devloop.toml"]));
        assert!(!yes(&["zones/bl", "devloop.toml", "svc/rblx/zones/bl"]));
        // No paths: everything in the project, nothing outside it.
        assert!(touches(None, "svc/rbl", &strings(&["svc/rbl/README"])));
        assert!(!touches(None, "svc/rbl", &strings(&["svc/other/README"])));
        assert!(touches(None, "", &strings(&["anything"])));
    }

    #[test]
    fn globs_are_gitignore_patterns_a_star_stays_in_its_directory() {
        let zones = set(&["zones/*.zone"]);
        let yes = |changed: &[&str]| touches(Some(&zones), "", &strings(changed));
        assert!(yes(&["zones/example.com.zone"]));
        assert!(!yes(&["zones/a/b.zone"]), "`*` does not cross a `/`");
        assert!(!yes(&["zones/README"]));
        let below = set(&["conf*"]);
        assert!(touches(Some(&below), "", &strings(&["conf.d/named.conf"])));
        assert!(touches(
            Some(&set(&["."])),
            "",
            &strings(&["anything/at/all"])
        ));
    }

    #[test]
    fn the_script_is_marked_and_quotes_its_words() {
        let text = script(
            Path::new("/opt/it's here/devloop"),
            &[b"-C".to_vec(), b"svc/rbl".to_vec()],
        );
        let text = String::from_utf8(text).expect("utf-8");
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(is_ours(text.as_bytes()));
        assert!(text.contains("devloop='/opt/it'\\''s here/devloop'\n"));
        assert!(text.ends_with("exec \"$devloop\" '-C' 'svc/rbl' hook run\n"));
        assert!(!is_ours(b"#!/bin/sh\n# devloop\nexec devloop test\n"));
    }
}
