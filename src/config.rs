//! `devloop.toml`: finding it, reading it, and saying precisely where it is wrong. This
//! folder owns every table of the file and imports no command and nothing of the run:
//! only leaf libraries (`dns` for record types, `paths` for the one pattern dialect).
//!
//! Values that have a syntax of their own (ports, durations, patterns, record types) are
//! parsed while deserializing (`values`), so a bad one is reported at its own line and
//! column (`error`). Rules that span several keys are checked afterwards (`validate`,
//! `ports`, `placeholders`), against the place of the key they concern; `suggest` says
//! what was probably meant.

use crate::config::error::{child, item};
use crate::config::suggest::explain_toml_error;
use crate::config::task::TaskSpec;
use crate::config::validate::{path_set, validate_arg, validate_task_name};

mod error;
mod placeholders;
mod ports;
mod service;
mod step;
mod suggest;
mod tables;
mod task;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::paths::PathSet;

pub(crate) use error::{ConfigError, Invalid, Key, Located, Place, dotted, line_column, place};
pub(crate) use placeholders::placeholders;
pub(crate) use service::{MountMode, PullPolicy, Ready, ReloadSpec, Service};
pub(crate) use step::{ConstructMode, EachSpec, ExpectSpec, RblList, STEP_KINDS, StepSpec};
pub(crate) use suggest::{closest, did_you_mean};
#[cfg(test)]
pub(crate) use tables::OutputSpec;
pub(crate) use tables::{
    BuildSpec, ConstructSpec, FleetSpec, HookSpec, OnBusy, OneOrMany, WatchSpec, parse_mode,
};
pub(crate) use task::{ArgKind, ArgSpec, Task};
pub(crate) use values::{ContainerPort, DurationSpec, Pattern, RecordKindSpec};

pub(crate) const FILE_NAME: &str = "devloop.toml";

/// A loaded, validated `devloop.toml`.
#[derive(Debug)]
pub(crate) struct Config {
    /// The directory holding the file: the project's work tree, mounted into the service.
    pub root: PathBuf,
    pub project: String,
    pub service: Option<Service>,
    pub checks: BTreeMap<String, Spanned<StepSpec>>,
    pub tasks: BTreeMap<String, Task>,
    pub construct: Option<ConstructSpec>,
    pub watch: WatchSpec,
    pub hook: HookSpec,
    /// `[build]`: how `devloop build` builds the service image.
    pub build: Option<BuildSpec>,
    /// `[fleet]`: the hosts `validate` and `update` work on.
    pub fleet: FleetSpec,
    /// `[watch] paths`, compiled; every path of the project when there are none.
    pub watch_paths: PathSet,
    /// `[hook] paths`, compiled; `None` when absent (every path of the project).
    pub hook_paths: Option<PathSet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    project: Option<ProjectSpec>,
    service: Option<Service>,
    #[serde(default)]
    check: BTreeMap<String, Spanned<StepSpec>>,
    #[serde(default)]
    task: BTreeMap<Spanned<String>, TaskSpec>,
    construct: Option<ConstructSpec>,
    #[serde(default)]
    watch: WatchSpec,
    #[serde(default)]
    hook: HookSpec,
    build: Option<BuildSpec>,
    #[serde(default)]
    fleet: FleetSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    name: Option<String>,
}

/// Walks up from `start` to the first directory with an entry named `devloop.toml`. That
/// entry is the file the user meant, whatever it is: a directory, FIFO or broken symlink
/// of that name is reported by [`load`], not walked past.
pub(crate) fn find(start: &Path) -> Result<PathBuf, ConfigError> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| std::fs::symlink_metadata(candidate).is_ok())
        .ok_or_else(|| ConfigError::NotFound {
            start: start.to_path_buf(),
        })
}

/// The largest `devloop.toml` read: a config is a few kilobytes; anything this big is
/// some other file under that name.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let source = read_source(path)?;
    parse(path, source)
}

/// The text of the file. What it is gets checked on the open file, before reading: a
/// FIFO would make the read wait for a writer forever (hence the non-blocking open), and
/// a directory or a device is no config.
fn read_source(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let not_a_file = |what: String| ConfigError::NotAFile {
        path: path.to_path_buf(),
        what,
    };
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_a_file("is a symlink loop".into()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match std::fs::read_link(path) {
                Ok(target) => not_a_file(format!(
                    "is a symlink to {}, which does not exist",
                    target.display()
                )),
                Err(_) => read_error(e),
            });
        }
        Err(e) => return Err(read_error(e)),
    };
    let kind = file.metadata().map_err(read_error)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "is a directory"
        } else if kind.is_fifo() {
            "is a FIFO (named pipe)"
        } else if kind.is_socket() {
            "is a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "is a device"
        } else {
            "is not a regular file"
        };
        return Err(not_a_file(what.into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(not_a_file(format!(
            "is larger than {} MiB, which no {FILE_NAME} is",
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes());
        let before = String::from_utf8_lossy(&e.as_bytes()[..valid]);
        let (line, column) = line_column(&text, before.len());
        ConfigError::NotText {
            path: path.to_path_buf(),
            line,
            column,
        }
    })
}

pub(crate) fn parse(path: &Path, source: String) -> Result<Config, ConfigError> {
    let at = Located {
        path,
        source: &source,
    };
    let raw: RawFile = toml::from_str(&source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (message, help) = explain_toml_error(e.message());
        at.error(span, message, help)
    })?;

    // `devloop.toml` alone has the parent "", which is no directory one can resolve.
    let root = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let project = raw
        .project
        .and_then(|p| p.name)
        .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "devloop".to_owned());

    let mut tasks = BTreeMap::new();
    for (name, spec) in raw.task {
        let task = Task {
            name_span: name.span(),
            name: name.into_inner(),
            description: spec.description,
            args: spec.args.iter().map(|a| a.get_ref().clone()).collect(),
            deps: spec.deps,
            steps: spec.steps,
        };
        validate_task_name(&at, &task)?;
        let args = place(&["task", &task.name, "args"]);
        for (index, arg) in spec.args.iter().enumerate() {
            let here = child(&item(&args, index), "name");
            validate_arg(&at, arg, &here)?;
            let name = &arg.get_ref().name;
            if task.args[..index].iter().any(|a| &a.name == name) {
                return Err(at.error_at(
                    &here,
                    arg.span(),
                    format!("task `{}` declares the argument `{name}` twice", task.name),
                    None,
                ));
            }
        }
        tasks.insert(task.name.clone(), task);
    }

    let watch_paths = if raw.watch.paths.is_empty() {
        PathSet::everything()
    } else {
        path_set(&at, &place(&["watch", "paths"]), &raw.watch.paths)?
    };
    let hook_paths = match &raw.hook.paths {
        Some(paths) => Some(path_set(&at, &place(&["hook", "paths"]), paths)?),
        None => None,
    };

    let config = Config {
        watch_paths,
        hook_paths,
        build: raw.build,
        fleet: raw.fleet,
        construct: raw.construct,
        hook: raw.hook,
        watch: raw.watch,
        root,
        project,
        service: raw.service,
        checks: raw.check,
        tasks,
    };
    validate::validate(&at, &config)?;
    Ok(config)
}
