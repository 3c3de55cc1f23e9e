//! The tables around the test loop: `[watch]`, `[hook]`, `[build]`, `[fleet]` and
//! `[construct]`, as the commands that read them expect them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::DurationSpec;

/// `[watch]`: what `devloop watch` reruns, and on which files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WatchSpec {
    /// Paths (files or directories, relative to the project) whose changes rerun the task;
    /// default: the whole project.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The task to rerun when none is named; default `test`.
    pub task: Option<String>,
    /// Gitignore-style patterns to ignore, on top of .gitignore and editor droppings.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// How long to wait for more changes after the first, so one save is one run.
    pub debounce: Option<DurationSpec>,
    /// What changes saved during a run make.
    #[serde(default)]
    pub on_busy: OnBusy,
}

/// `[watch] on_busy`: what changes saved while a run is under way make (watchexec's
/// `OnBusyUpdate`). Watchexec's other two have no meaning here: `restart` would cut a
/// round between the reload and its checks, leaving a service that took half a change;
/// `signal` is what the reload action already is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OnBusy {
    /// One more run once the files are quiet: the last run sees the last save.
    #[default]
    Queue,
    /// Dropped: the next run waits for the next save, so the verdict shown may be of
    /// files that have changed since.
    DoNothing,
}

/// `[hook]` in `devloop.toml`: what the pre-commit hook runs, and when.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HookSpec {
    /// The task to run; `test` when absent.
    pub task: Option<String>,
    /// Paths (or glob patterns) relative to the project directory; a commit that touches
    /// none of them, nor `devloop.toml`, runs nothing. Everything when absent.
    pub paths: Option<Vec<String>>,
}

impl HookSpec {
    pub(crate) fn task(&self) -> &str {
        self.task.as_deref().unwrap_or("test")
    }
}

/// `[build]` in devloop.toml: how the service image is built.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuildSpec {
    /// The build context, relative to the project (default: the project itself).
    pub context: Option<String>,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// Build arguments (`ARG` values), e.g. `{ BASE = "devloop/debian:bookworm" }`.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// More names for the image, besides `[service] image`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// More labels; they override the ones devloop computes.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Lifecycle methods, stamped as `devloop.method.<name>` labels:
    /// `{ start = "/service/bin/start", validate = "/service/bin/validate" }`.
    #[serde(default)]
    pub methods: BTreeMap<String, String>,
}

/// `[fleet]` in devloop.toml: the hosts that run the service in production.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetSpec {
    /// Docker endpoints: `unix:///...`, `tcp://host:2376`, `ssh://user@host`, a context name.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The container `validate` and `update` work on when none is named.
    pub container: Option<String>,
    /// Hosts per batch (default 1).
    pub batch: Option<usize>,
    /// With `--all`: only containers with these labels (`key` or `key=value`).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// `[construct]` in `devloop.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConstructSpec {
    /// YAML files whose top-level mappings, merged in order, are the templates' variables.
    pub scope: OneOrMany,
    pub outputs: Vec<OutputSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn files(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(file) => vec![file.as_str()],
            OneOrMany::Many(files) => files.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputSpec {
    /// The template, relative to the project root (templates may include others by the
    /// same kind of path).
    pub template: String,
    /// The file written, relative to the project root.
    pub output: String,
    /// Octal file mode of the output, e.g. "0644"; the old file's mode is kept otherwise.
    pub mode: Option<String>,
}

/// An octal file mode such as `0644` or `0o755`; `None` when it is none.
pub(crate) fn parse_mode(mode: &str) -> Option<u32> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}
