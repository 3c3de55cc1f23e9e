//! `[task.NAME]`: Rake-like tasks, their arguments and prerequisites.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::StepSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskSpec {
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) args: Vec<Spanned<ArgSpec>>,
    #[serde(default)]
    pub(super) deps: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<StepSpec>>,
}

/// A Rake-like task: a name such as `test:host`, arguments, prerequisites and steps.
#[derive(Debug)]
pub(crate) struct Task {
    pub name: String,
    pub name_span: Range<usize>,
    pub description: Option<String>,
    pub args: Vec<ArgSpec>,
    pub deps: Vec<Spanned<String>>,
    pub steps: Vec<Spanned<StepSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArgSpec {
    pub name: String,
    /// Asked on a terminal when the argument is missing.
    pub prompt: Option<String>,
    pub default: Option<String>,
    #[serde(default)]
    pub kind: ArgKind,
}

/// What a task argument must look like; checked before anything runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ArgKind {
    /// Anything; a value that ends up in a DNS name is still checked as one.
    #[default]
    Text,
    /// A DNS host name.
    Host,
    /// An IPv4 address.
    Ipv4,
    /// An IPv4 address or a host name (what an RBL lookup takes).
    Address,
}
