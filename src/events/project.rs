//! What the commands that look after a project tell: its tasks (`list`), the templates
//! and the file `init` writes, what `construct` renders, the hook `hook` installs or
//! removes, and the containers `clean` removes.

use crate::construct::Rendered;
use crate::runtime::Swept;
use crate::templates::Template;

#[derive(Debug, Clone)]
pub(crate) enum ProjectEvent {
    /// `devloop list`: every task of `devloop.toml`, in its order.
    Tasks(Vec<TaskEntry>),
    /// `devloop init --list`.
    Templates(&'static [Template]),
    /// `devloop init` wrote a `devloop.toml`.
    Initialized(Initialized),
    /// `devloop construct`: what the templates render, before anything is written.
    Constructed(Construction),
    HookInstalled(HookInstalled),
    HookRemoved(HookRemoved),
    /// `devloop clean`: the containers removed (none, maybe).
    Cleaned(Vec<Swept>),
}

/// A task as `list` shows it.
#[derive(Debug, Clone)]
pub(crate) struct TaskEntry {
    pub name: String,
    pub description: Option<String>,
    /// Its arguments' names, in order.
    pub args: Vec<String>,
    /// The tasks that run before it.
    pub deps: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Initialized {
    pub path: String,
    pub template: &'static str,
    /// Why this template, when it was guessed from the files present.
    pub guessed: Option<String>,
}

/// What `construct` rendered, and what it does with it.
#[derive(Debug, Clone)]
pub(crate) struct Construction {
    pub outputs: Vec<Rendered>,
    /// Show the unified diff too (`--diff`).
    pub diff: bool,
    pub mode: ConstructMode,
}

impl Construction {
    /// The outputs that differ from what is on disk.
    pub(crate) fn stale(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .filter(|o| o.changed())
            .map(|o| o.output.as_str())
            .collect()
    }

    /// Whether `construct` fails: only `--check` does, and only on a stale output.
    pub(crate) fn failed(&self) -> bool {
        self.mode == ConstructMode::Check && self.outputs.iter().any(Rendered::changed)
    }
}

/// What `construct` does with the outputs that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConstructMode {
    /// Writes them.
    Write,
    /// `--dry-run`: shows them, writes nothing.
    DryRun,
    /// `--check`: writes nothing, fails when any changed.
    Check,
}

impl ConstructMode {
    pub(crate) fn word(self) -> &'static str {
        match self {
            ConstructMode::Write => "write",
            ConstructMode::DryRun => "dry-run",
            ConstructMode::Check => "check",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HookInstalled {
    pub hook: String,
    /// The task every commit runs.
    pub task: String,
    /// Where the hook it replaced (`--force`) was kept.
    pub kept: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct HookRemoved {
    pub hook: String,
    /// Where the hook `install --force` had replaced was put back from.
    pub restored: Option<String>,
}
