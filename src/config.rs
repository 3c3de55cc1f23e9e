//! `devloop.toml`: finding it, reading it, and saying precisely where it is wrong.
//!
//! Values that have a syntax of their own (ports, durations, patterns, record types) are
//! parsed while deserializing, so a bad one is reported at its own line and column. Rules
//! that span several keys (a step has exactly one kind) are checked afterwards, against the
//! span of the table they concern.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::build::BuildSpec;
use crate::construct::ConstructSpec;
use crate::dns::RecordKind;
use crate::fleet::FleetSpec;
use crate::hook::HookSpec;
use crate::paths::PathSet;

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

/// How a running service applies changed files without a restart: a signal to its main
/// process or a command in it, then proof that it took effect.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReloadSpec {
    /// e.g. "HUP".
    pub signal: Option<String>,
    /// e.g. ["rndc", "reload"]; must exit 0.
    pub exec: Option<Vec<String>>,
    /// A log line, written after the reload, that shows it has taken effect. Without it,
    /// the signal being delivered (or the command succeeding) is taken as enough.
    pub log: Option<Pattern>,
    /// How long to wait for that line before restarting the service instead.
    pub timeout: Option<DurationSpec>,
}

impl ReloadSpec {
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout.map_or(Duration::from_secs(2), |t| t.0)
    }
}

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    name: Option<String>,
}

/// The container the checks run against.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Service {
    pub image: String,
    #[serde(default)]
    pub pull: PullPolicy,
    /// Where the work tree is mounted in the container.
    #[serde(default = "default_mount")]
    pub mount: String,
    #[serde(default)]
    pub mount_mode: MountMode,
    /// The container's working directory; the image's own when absent.
    pub workdir: Option<String>,
    /// The command to run; the image's own (its START method) when absent.
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    pub ready: Option<Spanned<ReadySpec>>,
    /// How the running service picks up changed files (used by `watch`).
    pub reload: Option<Spanned<ReloadSpec>>,
    /// Log lines that fail the run even when every check passed: a daemon that skips a bad
    /// zone line keeps answering, so its complaint is the only trace of the mistake.
    #[serde(default)]
    pub fail_on_log: Vec<Pattern>,
}

impl Service {
    /// The container port a DNS step asks: its own `port`, else the readiness probe's,
    /// else the first UDP port, else the first port.
    pub(crate) fn dns_port(&self, asked: Option<ContainerPort>) -> Option<ContainerPort> {
        asked
            .or_else(|| self.ready.as_ref().and_then(|r| r.get_ref().dns))
            .or_else(|| self.ports.iter().copied().find(|p| p.udp))
            .or_else(|| self.ports.first().copied())
    }
}

fn default_mount() -> String {
    "/service".to_owned()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MountMode {
    #[default]
    Ro,
    Rw,
}

/// How to tell that the service is ready: exactly one of the probe keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadySpec {
    pub dns: Option<ContainerPort>,
    /// The name asked by a `dns` probe; any well-formed answer counts, NXDOMAIN included.
    pub name: Option<String>,
    pub tcp: Option<ContainerPort>,
    pub log: Option<Pattern>,
    pub exec: Option<Vec<String>>,
    pub timeout: Option<DurationSpec>,
}

/// A readiness probe after validation.
#[derive(Debug, Clone)]
pub(crate) enum Ready {
    Dns { port: ContainerPort, name: String },
    Tcp { port: ContainerPort },
    Log { pattern: Pattern },
    Exec { command: Vec<String> },
}

impl ReadySpec {
    pub(crate) fn probe(&self) -> Option<Ready> {
        if let Some(port) = self.dns {
            let name = self
                .name
                .clone()
                .unwrap_or_else(|| "ready.devloop.".to_owned());
            return Some(Ready::Dns { port, name });
        }
        if let Some(port) = self.tcp {
            return Some(Ready::Tcp { port });
        }
        if let Some(pattern) = &self.log {
            return Some(Ready::Log {
                pattern: pattern.clone(),
            });
        }
        self.exec.clone().map(|command| Ready::Exec { command })
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout.map_or(Duration::from_secs(10), |t| t.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSpec {
    description: Option<String>,
    #[serde(default)]
    args: Vec<Spanned<ArgSpec>>,
    #[serde(default)]
    deps: Vec<Spanned<String>>,
    #[serde(default)]
    steps: Vec<Spanned<StepSpec>>,
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

/// One step of a task, or a named check, as written. Exactly one of the kind keys
/// (`check`, `dns`, `rbl`, `rfc5782`, `exec`, `method`, `run`, `sh`) is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepSpec {
    pub name: Option<String>,
    pub check: Option<String>,
    pub dns: Option<String>,
    pub rbl: Option<String>,
    pub zone: Option<String>,
    pub listed: Option<bool>,
    pub rfc5782: Option<String>,
    pub list: Option<RblList>,
    #[serde(rename = "type")]
    pub record: Option<RecordKindSpec>,
    pub expect: Option<ExpectSpec>,
    pub any_of: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub pattern: Option<Pattern>,
    pub no_match: Option<Pattern>,
    pub rcode: Option<String>,
    pub ttl: Option<u32>,
    pub port: Option<ContainerPort>,
    pub tcp: Option<bool>,
    pub timeout: Option<DurationSpec>,
    pub exec: Option<Vec<String>>,
    pub method: Option<String>,
    pub status: Option<i64>,
    pub run: Option<Vec<String>>,
    pub sh: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub construct: Option<ConstructMode>,
    /// Repeats the step over files matching a glob or over entries of the scope.
    pub each: Option<EachSpec>,
}

/// What a `construct` step does: fail when the outputs are out of date, or write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ConstructMode {
    Check,
    Write,
}

/// `each = { glob = "zones/*.zone", as = "zone" }` binds `{zone}` to each file's stem
/// and `{zone_path}` to its path; `each = { scope = "zones", where = { type = "master" },
/// as = "zone" }` binds `{zone}` to each key (or `name`) of that scope entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EachSpec {
    pub glob: Option<String>,
    pub scope: Option<String>,
    #[serde(rename = "where", default)]
    pub filter: BTreeMap<String, String>,
    #[serde(rename = "as")]
    pub bind: String,
}

/// The keys that decide what kind of step a table is.
pub(crate) const STEP_KINDS: [&str; 9] = [
    "check",
    "dns",
    "rbl",
    "rfc5782",
    "exec",
    "method",
    "run",
    "sh",
    "construct",
];

impl StepSpec {
    fn kinds(&self) -> Vec<&'static str> {
        let set = [
            self.check.is_some(),
            self.dns.is_some(),
            self.rbl.is_some(),
            self.rfc5782.is_some(),
            self.exec.is_some(),
            self.method.is_some(),
            self.run.is_some(),
            self.sh.is_some(),
            self.construct.is_some(),
        ];
        STEP_KINDS
            .iter()
            .zip(set)
            .filter_map(|(k, s)| s.then_some(*k))
            .collect()
    }

    /// The single kind key of a validated step.
    pub(crate) fn kind(&self) -> &'static str {
        self.kinds().first().copied().unwrap_or("check")
    }

    /// Keys that are set but mean nothing for this kind of step.
    fn stray_keys(&self) -> Vec<&'static str> {
        let dns_like = matches!(self.kind(), "dns" | "rbl");
        let command_like = matches!(self.kind(), "exec" | "method" | "run" | "sh");
        let mut stray = Vec::new();
        let mut flag = |set: bool, allowed: bool, key: &'static str| {
            if set && !allowed {
                stray.push(key);
            }
        };
        flag(self.zone.is_some(), matches!(self.kind(), "rbl"), "zone");
        flag(self.listed.is_some(), self.kind() == "rbl", "listed");
        flag(self.list.is_some(), self.kind() == "rfc5782", "list");
        flag(self.record.is_some(), self.kind() == "dns", "type");
        flag(self.expect.is_some(), dns_like, "expect");
        flag(self.any_of.is_some(), dns_like, "any_of");
        flag(self.rcode.is_some(), dns_like, "rcode");
        flag(self.ttl.is_some(), dns_like, "ttl");
        flag(
            self.port.is_some(),
            dns_like || self.kind() == "rfc5782",
            "port",
        );
        flag(
            self.tcp.is_some(),
            dns_like || self.kind() == "rfc5782",
            "tcp",
        );
        flag(self.pattern.is_some(), dns_like || command_like, "match");
        flag(
            self.no_match.is_some(),
            dns_like || command_like,
            "no_match",
        );
        flag(self.status.is_some(), command_like, "status");
        flag(self.env.is_some(), command_like, "env");
        flag(self.each.is_some(), self.kind() != "construct", "each");
        if self.kind() == "check" {
            stray.clear();
        }
        stray
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RblList {
    /// Lists IPv4 addresses: 127.0.0.2 listed, 127.0.0.1 not (RFC 5782 section 5).
    Ipv4,
    /// Lists domain names: TEST listed, INVALID not.
    Domain,
}

/// `expect = "nxdomain"` or `expect = ["127.0.0.2", ...]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ExpectSpec {
    One(String),
    Many(Vec<String>),
}

/// A record type, checked while parsing so a typo points at its column.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct RecordKindSpec(pub RecordKind);

impl TryFrom<String> for RecordKindSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        RecordKind::from_str(&s)
            .map(Self)
            .map_err(|e| e.to_string())
    }
}

/// A port inside the container: `5301/udp`, `53/tcp` or `53` (TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct ContainerPort {
    pub port: u16,
    pub udp: bool,
}

impl ContainerPort {
    pub(crate) fn proto(&self) -> &'static str {
        if self.udp { "udp" } else { "tcp" }
    }
}

impl fmt::Display for ContainerPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.proto())
    }
}

impl FromStr for ContainerPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (number, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let udp = match proto {
            "udp" => true,
            "tcp" => false,
            other => {
                return Err(format!(
                    "unknown protocol `{other}` in port `{s}`: use udp or tcp"
                ));
            }
        };
        match number.parse::<u16>() {
            Ok(port) if port > 0 => Ok(Self { port, udp }),
            _ => Err(format!(
                "`{s}` is not a container port: expected a number 1-65535, optionally followed by /udp or /tcp"
            )),
        }
    }
}

impl TryFrom<String> for ContainerPort {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A duration such as `500ms`, `5s` or `2m`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct DurationSpec(pub Duration);

impl TryFrom<String> for DurationSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(Self)
    }
}

/// The longest duration accepted anywhere in the file: a day. Nothing devloop waits for
/// takes longer, so a longer one is a slip (a unit forgotten, digits doubled), and
/// deadlines computed from an accepted one cannot overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: expected e.g. 500ms, 5s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in duration `{s}`: use ms, s or m"
            ));
        }
    };
    let too_long = || {
        format!(
            "`{s}` is too long: the longest duration accepted is {}s (24 hours, 1440m)",
            MAX_DURATION.as_secs()
        )
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(too_long()),
    }
}

/// A regular expression, compiled while parsing.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Pattern(pub regex::Regex);

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        regex::Regex::new(&s)
            .map(Self)
            .map_err(|e| format!("invalid pattern: {e}"))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A mistake in `devloop.toml`, with where it is and what would be right.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("no {FILE_NAME} in {} or any directory above it", start.display())]
    NotFound { start: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} {what}; {FILE_NAME} must be a regular file", path.display())]
    NotAFile { path: PathBuf, what: String },
    #[error("{}:{line}:{column}: not UTF-8 text; {FILE_NAME} must be UTF-8", path.display())]
    NotText {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{}:{}:{}: {}", .0.path.display(), .0.line, .0.column, .0.message)]
    Invalid(Box<Invalid>),
}

/// Where the file is wrong and how, with the text to draw the place from.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    pub span: Range<usize>,
    pub source_text: String,
}

impl ConfigError {
    pub(crate) fn help(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { .. } => Some(format!(
                "run devloop inside a project that has a {FILE_NAME}, or point at one with --file"
            )),
            ConfigError::NotAFile { .. } => Some(format!(
                "replace it with the project's {FILE_NAME}, or point at one with --file"
            )),
            ConfigError::Read { .. } | ConfigError::NotText { .. } => None,
            ConfigError::Invalid(invalid) => invalid.help.clone(),
        }
    }
}

/// The error builder for one file: turns a byte span into line and column.
pub(crate) struct Located<'a> {
    pub path: &'a Path,
    pub source: &'a str,
}

impl Located<'_> {
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let (line, column) = line_column(self.source, span.start);
        ConfigError::Invalid(Box::new(Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
            help,
            span,
            source_text: self.source.to_owned(),
        }))
    }
}

/// One step on the way to a value in the file: a key of a table or an index of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Name(String),
    Index(usize),
}

/// The way to a value from the top of the file, e.g. `task."test:host".steps[2].dns`.
pub(crate) type Place = Vec<Key>;

/// The place of a key path given as names, e.g. `place(&["service", "mount"])`.
pub(crate) fn place(names: &[&str]) -> Place {
    names.iter().map(|n| Key::Name((*n).to_owned())).collect()
}

/// `place` with one more key.
fn child(place: &[Key], name: &str) -> Place {
    let mut out = place.to_vec();
    out.push(Key::Name(name.to_owned()));
    out
}

/// `place` with one more index.
fn item(place: &[Key], index: usize) -> Place {
    let mut out = place.to_vec();
    out.push(Key::Index(index));
    out
}

/// A place as an operator writes it in messages: `construct.outputs[0].output`.
pub(crate) fn dotted(place: &[Key]) -> String {
    let mut out = String::new();
    for key in place {
        match key {
            Key::Index(i) => out.push_str(&format!("[{i}]")),
            Key::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if bare {
                    out.push_str(name);
                } else {
                    out.push_str(&format!("{name:?}"));
                }
            }
        }
    }
    out
}

impl Located<'_> {
    /// Where the value at `place` is written. The document is parsed again for this, but
    /// only when there is an error to show: a valid file pays nothing.
    pub(crate) fn span_of(&self, place: &[Key]) -> Option<Range<usize>> {
        let document = toml::de::DeTable::parse(self.source).ok()?;
        let (Key::Name(first), rest) = place.split_first()? else {
            return None;
        };
        let mut value = document.get_ref().get(first.as_str())?;
        for key in rest {
            value = match key {
                Key::Name(name) => value.get_ref().get(name.as_str())?,
                Key::Index(index) => value.get_ref().get(*index)?,
            };
        }
        Some(value.span())
    }

    /// An error at the value at `place`, or at `fallback` (the enclosing table) when the
    /// value cannot be found (a default, say).
    pub(crate) fn error_at(
        &self,
        place: &[Key],
        fallback: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let span = self.span_of(place).unwrap_or(fallback);
        self.error(span, message, help)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
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
    validate(&at, &config)?;
    Ok(config)
}

fn validate_task_name(at: &Located<'_>, task: &Task) -> Result<(), ConfigError> {
    let ok = !task.name.is_empty()
        && task.name.split(':').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        return Ok(());
    }
    Err(at.error(
        task.name_span.clone(),
        format!("`{}` is not a task name", task.name),
        Some("task names are words of letters, digits, - and _, joined by `:` for namespaces, e.g. test:host".into()),
    ))
}

fn validate_arg(at: &Located<'_>, arg: &Spanned<ArgSpec>, here: &[Key]) -> Result<(), ConfigError> {
    let name = &arg.get_ref().name;
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        return Ok(());
    }
    Err(at.error_at(
        here,
        arg.span(),
        format!("`{name}` is not an argument name"),
        Some("argument names are lower-case letters, digits and _ (they become environment variables of sh steps)".into()),
    ))
}

fn validate(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    if let Some(service) = &config.service {
        validate_service(at, service)?;
    }
    if let Some(construct) = &config.construct {
        validate_construct(at, &config.root, construct)?;
    }
    check_cycles(at, config)?;
    for (name, step) in &config.checks {
        validate_step(at, config, step, &place(&["check", name]))?;
    }
    for task in config.tasks.values() {
        for dep in &task.deps {
            if !config.tasks.contains_key(dep.get_ref()) {
                return Err(at.error(
                    dep.span(),
                    format!(
                        "task `{}` depends on `{}`, which is not defined",
                        task.name,
                        dep.get_ref()
                    ),
                    did_you_mean(dep.get_ref(), config.tasks.keys()),
                ));
            }
        }
    }
    task_cycles(at, config)?;
    for task in config.tasks.values() {
        let steps = place(&["task", &task.name, "steps"]);
        for (index, step) in task.steps.iter().enumerate() {
            let here = item(&steps, index);
            validate_step(at, config, step, &here)?;
            let arguments = task.args.iter().map(|a| a.name.clone()).collect();
            let use_site = UseSite {
                task,
                place: &here,
                span: step.span(),
            };
            check_arguments(at, config, &use_site, step.get_ref(), &here, arguments, &[])?;
        }
    }
    Ok(())
}

fn validate_service(at: &Located<'_>, service: &Service) -> Result<(), ConfigError> {
    let top = place(&["service"]);
    let published = |port: ContainerPort| service.ports.contains(&port);
    let ports_list = || {
        let quoted: Vec<String> = service.ports.iter().map(|p| format!("\"{p}\"")).collect();
        format!("ports = [{}]", quoted.join(", "))
    };
    if let Some(ready) = &service.ready {
        let spec = ready.get_ref();
        let probes = [
            spec.dns.is_some(),
            spec.tcp.is_some(),
            spec.log.is_some(),
            spec.exec.is_some(),
        ];
        if probes.iter().filter(|p| **p).count() != 1 {
            return Err(at.error(
                ready.span(),
                "`ready` needs exactly one probe",
                Some("use one of dns = \"5301/udp\", tcp = \"53/tcp\", log = \"pattern\" or exec = [\"cmd\", ...]".into()),
            ));
        }
        for (key, port) in [("dns", spec.dns), ("tcp", spec.tcp)] {
            let Some(port) = port else { continue };
            if !published(port) {
                return Err(at.error_at(
                    &child(&child(&top, "ready"), key),
                    ready.span(),
                    format!(
                        "`ready` probes {port}, which the service does not publish ({})",
                        ports_list()
                    ),
                    Some(format!(
                        "add \"{port}\" to the service's ports, or probe one of those"
                    )),
                ));
            }
        }
        if spec.exec.as_ref().is_some_and(Vec::is_empty) {
            return Err(at.error_at(
                &child(&child(&top, "ready"), "exec"),
                ready.span(),
                "`ready.exec` is an empty command",
                Some("e.g. exec = [\"test\", \"-S\", \"/run/app.sock\"]".into()),
            ));
        }
    }
    if let Some(reload) = &service.reload {
        let spec = reload.get_ref();
        if spec.signal.is_some() == spec.exec.is_some() {
            return Err(at.error(
                reload.span(),
                "`reload` needs exactly one of `signal` or `exec`",
                Some("e.g. reload = { signal = \"HUP\", log = \"zones reloaded\" } or reload = { exec = [\"rndc\", \"reload\"] }".into()),
            ));
        }
        if let Some(signal) = &spec.signal {
            if !is_signal(signal) {
                return Err(at.error_at(
                    &child(&child(&top, "reload"), "signal"),
                    reload.span(),
                    format!("`{signal}` is not a signal"),
                    Some("name one such as HUP, USR1 or SIGHUP, or give its number".into()),
                ));
            }
        }
        if spec.exec.as_ref().is_some_and(Vec::is_empty) {
            return Err(at.error_at(
                &child(&child(&top, "reload"), "exec"),
                reload.span(),
                "`reload.exec` is an empty command",
                Some("e.g. exec = [\"rndc\", \"reload\"]".into()),
            ));
        }
    }
    if !service.mount.starts_with('/') {
        return Err(at.error_at(
            &child(&top, "mount"),
            0..0,
            format!(
                "`service.mount` must be an absolute path in the container, not `{}`",
                service.mount
            ),
            Some("e.g. mount = \"/service\"".into()),
        ));
    }
    if service.command.as_ref().is_some_and(Vec::is_empty) {
        return Err(at.error_at(
            &child(&top, "command"),
            0..0,
            "`service.command` is empty",
            Some("leave it out to run the image's own command (its START method)".into()),
        ));
    }
    Ok(())
}

/// Signal names as `docker kill -s` takes them, with or without `SIG`, or a number.
fn is_signal(name: &str) -> bool {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Ok(number) = name.parse::<u8>() {
        return (1..=64).contains(&number);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.contains(&bare)
}

/// `[construct]`: every file it reads or writes is inside the project, every mode octal.
fn validate_construct(
    at: &Located<'_>,
    root: &Path,
    construct: &ConstructSpec,
) -> Result<(), ConfigError> {
    let top = place(&["construct"]);
    let scope_places: Vec<Place> = match &construct.scope {
        crate::construct::OneOrMany::One(_) => vec![child(&top, "scope")],
        crate::construct::OneOrMany::Many(files) => (0..files.len())
            .map(|i| item(&child(&top, "scope"), i))
            .collect(),
    };
    for (file, here) in construct.scope.files().into_iter().zip(&scope_places) {
        inside_project(at, root, here, file)?;
    }
    let outputs = child(&top, "outputs");
    for (index, output) in construct.outputs.iter().enumerate() {
        let here = item(&outputs, index);
        inside_project(at, root, &child(&here, "template"), &output.template)?;
        inside_project(at, root, &child(&here, "output"), &output.output)?;
        if let Some(mode) = &output.mode {
            if crate::construct::parse_mode(mode).is_none() {
                return Err(at.error_at(
                    &child(&here, "mode"),
                    0..0,
                    format!("`{mode}` is not a file mode"),
                    Some("an octal mode such as \"0644\" or \"0755\"".into()),
                ));
            }
        }
    }
    Ok(())
}

/// A path the config names, which must lead to a place inside the project directory.
fn inside_project(
    at: &Located<'_>,
    root: &Path,
    here: &[Key],
    path: &str,
) -> Result<(), ConfigError> {
    match crate::paths::resolve_inside(root, path) {
        Ok(_) => Ok(()),
        Err(why) => Err(at.error_at(
            here,
            0..0,
            format!("`{}` = `{path}` {why}", dotted(here)),
            Some(format!(
                "paths here are relative to the project directory {}, and stay in it",
                root.display()
            )),
        )),
    }
}

/// Patterns of `[watch] paths` and `[hook] paths`, compiled once at load.
fn path_set(at: &Located<'_>, here: &[Key], patterns: &[String]) -> Result<PathSet, ConfigError> {
    PathSet::new(patterns).map_err(|(index, why)| {
        let pattern = patterns.get(index).map_or("", String::as_str);
        let here = item(here, index);
        at.error_at(
            &here,
            0..0,
            format!("`{}` = `{pattern}` {why}", dotted(&here)),
            Some(PATTERN_HELP.into()),
        )
    })
}

const PATTERN_HELP: &str = "paths are gitignore patterns relative to the project directory, e.g. \"zones\", \"zones/*.zone\" or \"conf/**/*.conf\"";

/// A named check that refers to itself, or checks that refer to each other in a circle,
/// would expand forever.
fn check_cycles(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    for start in config.checks.keys() {
        let mut chain: Vec<&str> = vec![start];
        while let Some(next) = config
            .checks
            .get(chain[chain.len() - 1])
            .and_then(|step| step.get_ref().check.as_deref())
        {
            if let Some(first) = chain.iter().position(|c| *c == next) {
                let closing = chain[chain.len() - 1];
                let mut circle = chain[first..].to_vec();
                circle.push(next);
                let message = if circle.len() == 2 {
                    format!("check `{next}` refers to itself")
                } else {
                    format!(
                        "checks refer to each other in a circle: {}",
                        circle.join(" -> ")
                    )
                };
                let span = config.checks.get(closing).map_or(0..0, Spanned::span);
                return Err(at.error_at(
                    &place(&["check", closing, "check"]),
                    span,
                    message,
                    Some("a check that uses another check must end at one that does the work (dns, exec, ...)".into()),
                ));
            }
            if !config.checks.contains_key(next) {
                break;
            }
            chain.push(next);
        }
    }
    Ok(())
}

/// Prerequisites that lead back to the task that needs them have no first task to run.
fn task_cycles(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in config.tasks.values() {
        // Depth first, without recursion: (task, how many of its deps were visited).
        let mut path: Vec<(&Task, usize)> = vec![(start, 0)];
        while let Some((task, next)) = path.last_mut() {
            let task: &Task = task;
            if done.contains(task.name.as_str()) {
                path.pop();
                continue;
            }
            let Some(dep) = task.deps.get(*next) else {
                done.insert(&task.name);
                path.pop();
                continue;
            };
            *next += 1;
            let name = dep.get_ref().as_str();
            if let Some(first) = path.iter().position(|(t, _)| t.name == name) {
                let mut circle: Vec<&str> =
                    path[first..].iter().map(|(t, _)| t.name.as_str()).collect();
                circle.push(name);
                let message = if circle.len() == 2 {
                    format!("task `{name}` depends on itself")
                } else {
                    format!(
                        "tasks depend on each other in a circle: {}",
                        circle.join(" -> ")
                    )
                };
                return Err(at.error(
                    dep.span(),
                    message,
                    Some("prerequisites run before the task that needs them, so a circle has no first task".into()),
                ));
            }
            if let Some(dep_task) = config.tasks.get(name) {
                if !done.contains(name) {
                    path.push((dep_task, 0));
                }
            }
        }
    }
    Ok(())
}

fn validate_step(
    at: &Located<'_>,
    config: &Config,
    step: &Spanned<StepSpec>,
    here: &[Key],
) -> Result<(), ConfigError> {
    let spec = step.get_ref();
    let kinds = spec.kinds();
    if kinds.len() != 1 {
        let found = if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(" and ")
        };
        return Err(at.error(
            step.span(),
            format!("a step needs exactly one of {}; found {found}", list_keys(&STEP_KINDS)),
            Some("e.g. { name = \"black list\", dns = \"{host}.bl.rbl\", type = \"A\", expect = [\"127.0.0.2\"] }".into()),
        ));
    }
    let stray = spec.stray_keys();
    if !stray.is_empty() {
        return Err(at.error(
            step.span(),
            format!(
                "{} does not apply to a `{}` step",
                list_keys(&stray),
                spec.kind()
            ),
            None,
        ));
    }
    let value_error = |key: &[Key], message: String, help: Option<String>| {
        let mut full = here.to_vec();
        full.extend_from_slice(key);
        at.error_at(&full, step.span(), message, help)
    };
    let name = |n: &str| Key::Name(n.to_owned());
    if let Some(check) = &spec.check {
        if !config.checks.contains_key(check) {
            return Err(value_error(
                &[name("check")],
                format!("no check named `{check}` is defined"),
                did_you_mean(check, config.checks.keys())
                    .or_else(|| Some(format!("define it as [check.{check}]"))),
            ));
        }
    }
    if spec.kind() == "construct" && config.construct.is_none() {
        return Err(at.error(
            step.span(),
            "a `construct` step needs a [construct] table (scope and outputs)",
            None,
        ));
    }
    if let Some(each) = &spec.each {
        if each.glob.is_some() == each.scope.is_some() {
            return Err(value_error(
                &[name("each")],
                "`each` needs exactly one of `glob` or `scope`".into(),
                Some("e.g. each = { glob = \"zones/*.zone\", as = \"zone\" }".into()),
            ));
        }
        if each.scope.is_some() && config.construct.is_none() {
            return Err(value_error(
                &[name("each"), name("scope")],
                "`each = { scope = ... }` reads the [construct] scope files, and there is no [construct] table".into(),
                None,
            ));
        }
        if let Some(glob) = &each.glob {
            if let Err((_, why)) = PathSet::new(std::slice::from_ref(glob)) {
                return Err(value_error(
                    &[name("each"), name("glob")],
                    format!("`each.glob` = `{glob}` {why}"),
                    Some(PATTERN_HELP.into()),
                ));
            }
        }
        if !is_placeholder_name(&each.bind) {
            return Err(value_error(
                &[name("each"), name("as")],
                format!("`{}` cannot be a placeholder name", each.bind),
                Some(
                    "letters, digits and _, e.g. as = \"zone\" (then {zone} and {zone_path})"
                        .into(),
                ),
            ));
        }
    }
    if spec.kind() == "rbl" && spec.zone.is_none() {
        return Err(at.error(
            step.span(),
            "an `rbl` step needs `zone`, the list's zone, e.g. zone = \"senderhost.bl.rbl\"",
            None,
        ));
    }
    if matches!(spec.kind(), "dns" | "rbl" | "rfc5782" | "exec" | "method")
        && config.service.is_none()
    {
        return Err(at.error(
            step.span(),
            format!("a `{}` step needs a [service] to run against", spec.kind()),
            None,
        ));
    }
    for (key, argv) in [("exec", &spec.exec), ("run", &spec.run)] {
        if argv.as_ref().is_some_and(Vec::is_empty) {
            return Err(value_error(
                &[name(key)],
                format!("`{key}` is an empty command"),
                Some(format!("e.g. {key} = [\"named-checkconf\", \"-z\"]")),
            ));
        }
    }
    // A program given by a relative path is one of the project's own scripts.
    if let Some(program) = spec.run.as_ref().and_then(|argv| argv.first()) {
        if program.contains('/') && !program.starts_with('/') && placeholders(program).is_empty() {
            if let Err(why) = crate::paths::resolve_inside(&config.root, program) {
                return Err(value_error(
                    &[name("run"), Key::Index(0)],
                    format!("the program `{program}` {why}"),
                    Some("a relative program path is a script of the project; name a system program by its absolute path or by its name (found on PATH)".into()),
                ));
            }
        }
    }
    if let Some(service) = &config.service {
        check_ports(spec, service, &value_error)?;
    }
    Ok(())
}

/// Makes the error for a value of a step, given its key below the step.
type ValueError<'a> = dyn Fn(&[Key], String, Option<String>) -> ConfigError + 'a;

/// Ports a step names (its `port`, and `DEVLOOP_PORT_<port>_<PROTO>` in what a host
/// command gets) must be ones the service publishes: an unpublished one would only show
/// up as a timeout.
fn check_ports(
    spec: &StepSpec,
    service: &Service,
    value_error: &ValueError<'_>,
) -> Result<(), ConfigError> {
    let published: Vec<String> = service.ports.iter().map(|p| format!("\"{p}\"")).collect();
    let ports = format!("ports = [{}]", published.join(", "));
    let name = |n: &str| Key::Name(n.to_owned());
    if let Some(port) = spec.port {
        if !service.ports.contains(&port) {
            return Err(value_error(
                &[name("port")],
                format!("the step asks {port}, which the service does not publish ({ports})"),
                Some(format!(
                    "add \"{port}\" to the service's ports, or ask one of those"
                )),
            ));
        }
    }
    if matches!(spec.kind(), "dns" | "rbl" | "rfc5782") {
        let Some(port) = service.dns_port(spec.port) else {
            return Err(value_error(
                &[],
                format!(
                    "a `{}` step needs a port to ask, and the service publishes none",
                    spec.kind()
                ),
                Some("set `ports` on the service, or `port` on the step".into()),
            ));
        };
        // `tcp = true` asks over TCP only, `tcp = false` over UDP only: that protocol's
        // port must be published too.
        if let Some(tcp) = spec.tcp {
            let wanted = ContainerPort {
                port: port.port,
                udp: !tcp,
            };
            if !service.ports.contains(&wanted) {
                return Err(value_error(
                    &[name("tcp")],
                    format!(
                        "`tcp = {tcp}` asks over {}, and the service does not publish {wanted} ({ports})",
                        wanted.proto().to_uppercase()
                    ),
                    Some(format!(
                        "add \"{wanted}\" to the service's ports, or leave `tcp` out"
                    )),
                ));
            }
        }
    }
    let mut texts: Vec<(Vec<Key>, &str)> = Vec::new();
    if let Some(script) = &spec.sh {
        texts.push((vec![name("sh")], script));
    }
    for (index, word) in spec.run.iter().flatten().enumerate() {
        texts.push((vec![name("run"), Key::Index(index)], word));
    }
    for (key, value) in spec.env.iter().flatten() {
        texts.push((vec![name("env"), name(key)], value));
    }
    for (key, text) in texts {
        for (variable, port) in port_variables(text) {
            let problem = match port {
                None => Some(format!(
                    "`{variable}` is no port variable: they are DEVLOOP_PORT_<port>_UDP and DEVLOOP_PORT_<port>_TCP"
                )),
                Some(port) if !service.ports.contains(&port) => Some(format!(
                    "`{variable}` names {port}, which the service does not publish ({ports})"
                )),
                Some(_) => None,
            };
            if let Some(message) = problem {
                return Err(value_error(
                    &key,
                    message,
                    Some(
                        "host commands get DEVLOOP_PORT_<port>_<PROTO> for each published port"
                            .into(),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `DEVLOOP_PORT_<port>_<PROTO>` variables in a text, with the port each names (`None`
/// when it names none).
fn port_variables(text: &str) -> Vec<(String, Option<ContainerPort>)> {
    const PREFIX: &str = "DEVLOOP_PORT_";
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PREFIX) {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let variable = &tail[..end];
        let port = variable[PREFIX.len()..]
            .split_once('_')
            .and_then(|(number, proto)| {
                let proto = match proto {
                    "UDP" => "udp",
                    "TCP" => "tcp",
                    _ => return None,
                };
                format!("{number}/{proto}").parse::<ContainerPort>().ok()
            });
        found.push((variable.to_owned(), port));
        rest = &tail[end.max(PREFIX.len())..];
    }
    found
}

/// Where a task uses a step: for errors about the task's arguments.
struct UseSite<'a> {
    task: &'a Task,
    place: &'a [Key],
    span: Range<usize>,
}

/// Every `{name}` a step substitutes must be an argument of the task that runs it (or a
/// name its `each` binds), and no argument may be pasted into shell text. A `check` step
/// brings the named check's texts along: they are checked against the task that uses it.
fn check_arguments(
    at: &Located<'_>,
    config: &Config,
    site: &UseSite<'_>,
    spec: &StepSpec,
    here: &[Key],
    mut declared: Vec<String>,
    via: &[&str],
) -> Result<(), ConfigError> {
    let task = site.task;
    if let Some(each) = &spec.each {
        declared.push(each.bind.clone());
        declared.push(format!("{}_path", each.bind));
    }
    let arguments = || {
        if declared.is_empty() {
            "it takes none".to_owned()
        } else {
            let quoted: Vec<String> = declared.iter().map(|d| format!("`{d}`")).collect();
            format!("its arguments: {}", quoted.join(", "))
        }
    };
    // In a named check, the error belongs where the task uses it: that is what binds it.
    let at_use = |key: &[Key], message: String, help: Option<String>| {
        if via.is_empty() {
            let mut full = here.to_vec();
            full.extend_from_slice(key);
            at.error_at(&full, site.span.clone(), message, help)
        } else {
            at.error_at(
                &child(site.place, "check"),
                site.span.clone(),
                message,
                help,
            )
        }
    };
    for (key, text) in placeholder_texts(spec) {
        for name in placeholders(text) {
            if declared.contains(&name) {
                continue;
            }
            let message = if via.is_empty() {
                format!(
                    "`{{{name}}}` names no argument of task `{}` ({})",
                    task.name,
                    arguments()
                )
            } else {
                format!(
                    "check `{}` uses `{{{name}}}`, which names no argument of task `{}` ({})",
                    via.join("` -> `"),
                    task.name,
                    arguments()
                )
            };
            let help = did_you_mean(&name, declared.iter()).or_else(|| {
                Some(format!(
                    "declare it in the task: args = [{{ name = \"{name}\" }}]"
                ))
            });
            return Err(at_use(&key, message, help));
        }
    }
    let script = spec
        .sh
        .as_deref()
        .map(|s| (vec![Key::Name("sh".into())], s))
        .or_else(|| {
            [("exec", &spec.exec), ("run", &spec.run)]
                .into_iter()
                .find_map(|(key, argv)| {
                    let argv = argv.as_ref()?;
                    let script = shell_script(argv)?;
                    let index = argv.iter().position(|a| a == script)?;
                    Some((vec![Key::Name(key.into()), Key::Index(index)], script))
                })
        });
    if let Some((key, script)) = script {
        if let Some(name) = placeholders(script)
            .into_iter()
            .find(|n| task.args.iter().any(|a| &a.name == n))
        {
            let message = if via.is_empty() {
                format!(
                    "`{{{name}}}` in a shell script would paste a task argument into shell text"
                )
            } else {
                format!(
                    "check `{}` has `{{{name}}}` in a shell script, which would paste task `{}`'s argument into shell text",
                    via.join("` -> `"),
                    task.name
                )
            };
            return Err(at_use(
                &key,
                message,
                Some(format!(
                    "task arguments reach commands as environment variables: write \"${name}\""
                )),
            ));
        }
    }
    if let Some(check) = &spec.check {
        // Circles of checks are refused before this runs; `via` keeps it finite anyway.
        if let Some(step) = config
            .checks
            .get(check)
            .filter(|_| !via.contains(&check.as_str()))
        {
            let mut chain = via.to_vec();
            chain.push(check);
            check_arguments(
                at,
                config,
                site,
                step.get_ref(),
                &place(&["check", check]),
                declared,
                &chain,
            )?;
        }
    }
    Ok(())
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script of an argument vector that runs a shell: `["sh", "-c", SCRIPT, ...]`.
fn shell_script(argv: &[String]) -> Option<&str> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    let shells = ["sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"];
    if !shells.contains(&name) {
        return None;
    }
    let flag = argv
        .iter()
        .position(|a| a.starts_with('-') && a.contains('c'))?;
    argv.get(flag + 1).map(String::as_str)
}

/// The texts of a step into which task arguments are substituted, each with its key.
pub(crate) fn placeholder_texts(spec: &StepSpec) -> Vec<(Vec<Key>, &str)> {
    let key = |name: &str| Key::Name(name.to_owned());
    let mut texts: Vec<(Vec<Key>, &str)> = Vec::new();
    for (name, text) in [("dns", &spec.dns), ("rbl", &spec.rbl), ("zone", &spec.zone)] {
        if let Some(text) = text {
            texts.push((vec![key(name)], text));
        }
    }
    for (name, list) in [("exec", &spec.exec), ("run", &spec.run)] {
        for (index, text) in list.iter().flatten().enumerate() {
            texts.push((vec![key(name), Key::Index(index)], text));
        }
    }
    texts
}

/// The `{name}` placeholders in a text; `{{` and `${name}` (shell syntax) are not placeholders.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(open) = rest.find('{') {
        let before = rest[..open].chars().last().or(prev);
        let after = &rest[open + 1..];
        if let Some(escaped) = after.strip_prefix('{') {
            rest = escaped;
            prev = Some('{');
            continue;
        }
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            let is_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_name && before != Some('$') {
                found.push(name.to_owned());
            }
            rest = &after[close + 1..];
            prev = Some('}');
        } else {
            break;
        }
    }
    found
}

fn list_keys(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub(crate) fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<String> {
    closest(wrong, candidates.into_iter().map(String::as_str))
        .map(|c| format!("did you mean `{c}`?"))
}

pub(crate) fn closest<'a>(
    wrong: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(wrong, c), c))
        .filter(|(distance, c)| {
            *distance <= (c.len().max(wrong.len()) / 3).max(1) || c.starts_with(wrong)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// serde's messages are precise but terse; add the suggestion an operator wants.
fn explain_toml_error(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = closest(field, candidates.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some(format!("expected one of {}", list_keys(&candidates))));
            return (format!("unknown key `{field}`"), help);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = closest(variant, candidates.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some(format!("expected one of {}", list_keys(&candidates))));
            return (format!("unknown value `{variant}`"), help);
        }
    }
    if message.starts_with("data did not match any variant of untagged enum ExpectSpec") {
        return (
            "`expect` must be a string (\"nxdomain\", \"nodata\", \"answer\" or one record) or a list of records".into(),
            None,
        );
    }
    (message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("devloop.toml"), text.to_owned())
    }

    fn error_at(text: &str) -> (usize, usize, String, Option<String>) {
        match parse_str(text) {
            Err(ConfigError::Invalid(e)) => (e.line, e.column, e.message, e.help),
            other => panic!("expected an invalid-config error, got {other:?}"),
        }
    }

    const RBL: &str = r#"
[service]
image = "devloop-example/rbldnsd:latest"
ports = ["5301/udp"]
ready = { dns = "5301/udp", name = "ready.bl.rbl", timeout = "5s" }

[task."test:host"]
description = "Check a host"
args = [{ name = "host", prompt = "Host name to test", kind = "host" }]
steps = [
  { name = "black list", dns = "{host}.senderhost.bl.rbl", type = "A", expect = ["127.0.0.2"] },
  { name = "white list", dns = "{host}.senderhost.wl.rbl", type = "A", expect = "nxdomain" },
]
"#;

    #[test]
    fn parses_a_service_and_a_task() {
        let config = parse_str(RBL).expect("valid");
        let service = config.service.expect("service");
        assert_eq!(service.mount, "/service");
        assert_eq!(service.mount_mode, MountMode::Ro);
        assert_eq!(service.pull, PullPolicy::Missing);
        assert_eq!(
            service.ports,
            vec![ContainerPort {
                port: 5301,
                udp: true
            }]
        );
        let ready = service.ready.expect("ready");
        assert_eq!(ready.get_ref().timeout(), Duration::from_secs(5));
        let task = &config.tasks["test:host"];
        assert_eq!(task.args[0].kind, ArgKind::Host);
        assert_eq!(task.steps.len(), 2);
    }

    #[test]
    fn unknown_key_gives_position_and_suggestion() {
        let (line, column, message, help) = error_at("[service]\nimgae = \"x\"\n");
        assert_eq!((line, column), (2, 1));
        assert_eq!(message, "unknown key `imgae`");
        assert_eq!(help.as_deref(), Some("did you mean `image`?"));
    }

    #[test]
    fn bad_port_points_at_the_value() {
        let (line, column, message, _) =
            error_at("[service]\nimage = \"x\"\nports = [\"53/sctp\"]\n");
        assert_eq!((line, column), (3, 9));
        assert!(message.contains("unknown protocol `sctp`"), "{message}");
    }

    #[test]
    fn bad_record_type_lists_the_valid_ones() {
        let text = RBL.replace("type = \"A\"", "type = \"AA\"");
        let (line, _, message, _) = error_at(&text);
        assert_eq!(line, 11);
        assert!(message.contains("AA"), "{message}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let (line, column, _, _) = error_at("[service]\nimage = \"x\nports = 1\n");
        assert_eq!(line, 2);
        assert!(column >= 9, "column {column}");
    }

    #[test]
    fn step_with_two_kinds_is_rejected() {
        let text = RBL.replace(
            "{ name = \"black list\",",
            "{ name = \"black list\", exec = [\"true\"],",
        );
        let (line, column, message, _) = error_at(&text);
        assert_eq!((line, column), (11, 3));
        assert!(message.contains("found dns and exec"), "{message}");
    }

    #[test]
    fn unknown_placeholder_is_rejected_with_suggestion() {
        let text = RBL.replace("{host}.senderhost.bl.rbl", "{hots}.senderhost.bl.rbl");
        let (_, _, message, help) = error_at(&text);
        assert_eq!(
            message,
            "`{hots}` names no argument of task `test:host` (its arguments: `host`)"
        );
        assert_eq!(help.as_deref(), Some("did you mean `host`?"));
    }

    #[test]
    fn sh_steps_may_not_paste_arguments() {
        let text = RBL.replace("steps = [", "steps = [\n  { sh = \"echo {host}\" },");
        let (_, _, message, help) = error_at(&text);
        assert!(message.contains("shell text"), "{message}");
        assert!(help.unwrap_or_default().contains("$host"));
    }

    #[test]
    fn shell_scripts_in_argument_vectors_may_not_paste_arguments() {
        for step in [
            "{ run = [\"sh\", \"-c\", \"echo {host}\"] }",
            "{ exec = [\"/bin/bash\", \"-ec\", \"dig {host}\"] }",
        ] {
            let text = RBL.replace("steps = [", &format!("steps = [\n  {step},"));
            let (_, _, message, help) = error_at(&text);
            assert!(message.contains("shell text"), "{message}");
            assert!(help.unwrap_or_default().contains("$host"));
        }
        let fine = RBL.replace("steps = [", "steps = [\n  { run = [\"dig\", \"{host}\"] },");
        assert!(parse_str(&fine).is_ok());
    }

    #[test]
    fn shell_braces_are_not_placeholders() {
        assert_eq!(placeholders("echo ${host} {{literal}} {x}"), vec!["x"]);
        assert!(placeholders("awk '{print $1}'").is_empty());
    }

    #[test]
    fn unknown_dependency_suggests_a_task() {
        let text = format!("{RBL}\n[task.test]\ndeps = [\"test:hots\"]\n");
        let (line, _, message, help) = error_at(&text);
        assert_eq!(line, 16);
        assert!(
            message.contains("`test:hots`, which is not defined"),
            "{message}"
        );
        assert_eq!(help.as_deref(), Some("did you mean `test:host`?"));
    }

    #[test]
    fn bad_duration_is_explained() {
        let text = RBL.replace("timeout = \"5s\"", "timeout = \"5 parsecs\"");
        let (line, _, message, _) = error_at(&text);
        assert_eq!(line, 5);
        assert!(message.contains("duration"), "{message}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn durations_longer_than_a_day_are_refused_not_overflowed() {
        assert_eq!(parse_duration("86400s"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("1440m"), Ok(MAX_DURATION));
        for long in [
            "86400.001s",
            "1441m",
            "10000000000000000000s",
            "99999999999999999999999s",
            "99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999ms",
        ] {
            let message = parse_duration(long).expect_err(long);
            assert!(
                message.contains("the longest duration accepted is 86400s"),
                "{message}"
            );
        }
        // In the file, the error is the value's, at its line and column.
        let text = RBL.replace("timeout = \"5s\"", "timeout = \"99999999999999999999999s\"");
        let (line, column, message, _) = error_at(&text);
        assert_eq!((line, column), (5, 62));
        assert!(message.contains("too long"), "{message}");
    }

    #[test]
    fn line_columns_count_characters() {
        assert_eq!(line_column("ab\ncä d", 6), (2, 3));
        assert_eq!(line_column("x", 0), (1, 1));
    }

    /// Line and column where `needle` first starts in `text`.
    fn position_of(text: &str, needle: &str) -> (usize, usize) {
        let offset = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in the text"));
        line_column(text, offset)
    }

    /// Asserts that `text` is refused at the start of `needle`, with a message holding
    /// `fragment`; returns the message and help.
    fn refused_at(text: &str, needle: &str, fragment: &str) -> (String, Option<String>) {
        let (line, column, message, help) = error_at(text);
        assert!(
            message.contains(fragment),
            "{message:?} should contain {fragment:?}"
        );
        assert_eq!((line, column), position_of(text, needle), "{message}");
        (message, help)
    }

    #[test]
    fn a_check_that_refers_to_itself_is_refused_at_load() {
        let text = "[check.loop]\ncheck = \"loop\"\n\n[task.t]\nsteps = [{ check = \"loop\" }]\n";
        refused_at(text, "\"loop\"\n", "check `loop` refers to itself");
    }

    #[test]
    fn a_circle_of_checks_is_named() {
        let text = "[check.ping]\ncheck = \"pong\"\n\n[check.pong]\ncheck = \"ping\"\n";
        refused_at(
            text,
            "\"ping\"\n",
            "checks refer to each other in a circle: ping -> pong -> ping",
        );
    }

    #[test]
    fn a_circle_of_tasks_is_refused_at_load() {
        let text = "[task.a]\ndeps = [\"b\"]\n[task.b]\ndeps = [\"c\"]\n[task.c]\ndeps = [\"a\"]\n";
        refused_at(
            text,
            "\"a\"]",
            "tasks depend on each other in a circle: a -> b -> c -> a",
        );
        let text = "[task.me]\ndeps = [\"me\"]\n";
        refused_at(text, "\"me\"]", "task `me` depends on itself");
        // Diamonds are no circles.
        let fine = "[task.a]\ndeps = [\"b\", \"c\"]\n[task.b]\ndeps = [\"c\"]\n[task.c]\n";
        assert!(parse_str(fine).is_ok());
    }

    #[test]
    fn a_probe_of_an_unpublished_port_names_both() {
        let text = RBL.replace(
            "ready = { dns = \"5301/udp\"",
            "ready = { dns = \"5302/udp\"",
        );
        let (message, help) = refused_at(&text, "\"5302/udp\"", "probes 5302/udp");
        assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
        assert!(help.unwrap_or_default().contains("add \"5302/udp\""));
        let text = RBL.replace(
            "ready = { dns = \"5301/udp\", name = \"ready.bl.rbl\",",
            "ready = { tcp = \"5301/tcp\",",
        );
        refused_at(
            &text,
            "\"5301/tcp\"",
            "probes 5301/tcp, which the service does not publish",
        );
    }

    #[test]
    fn a_step_port_the_service_does_not_publish_is_refused() {
        let text = RBL.replace(
            "type = \"A\", expect = [\"127.0.0.2\"] }",
            "type = \"A\", port = \"5301/tcp\", expect = [\"127.0.0.2\"] }",
        );
        let (message, _) = refused_at(&text, "\"5301/tcp\"", "asks 5301/tcp");
        assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
        // In a named check too.
        let text = format!("{RBL}\n[check.tcp]\ndns = \"x.bl.rbl\"\nport = \"53\"\n");
        refused_at(&text, "\"53\"\n", "asks 53/tcp");
    }

    #[test]
    fn a_protocol_the_service_does_not_publish_is_refused() {
        let text = RBL.replace(
            "type = \"A\", expect = [\"127.0.0.2\"] }",
            "type = \"A\", tcp = true, expect = [\"127.0.0.2\"] }",
        );
        refused_at(
            &text,
            "true, expect",
            "`tcp = true` asks over TCP, and the service does not publish 5301/tcp",
        );
        let text = RBL.replace("ports = [\"5301/udp\"]", "ports = []").replace(
            "ready = { dns = \"5301/udp\", name = \"ready.bl.rbl\", timeout = \"5s\" }",
            "ready = { log = \"up\" }",
        );
        refused_at(
            &text,
            "{ name = \"black list\"",
            "needs a port to ask, and the service publishes none",
        );
    }

    #[test]
    fn a_port_variable_of_an_unpublished_port_is_refused() {
        let text = RBL.replace(
            "steps = [",
            "steps = [\n  { sh = \"dig -p $DEVLOOP_PORT_5301_TCP @127.0.0.1 x\" },",
        );
        let (message, _) = refused_at(&text, "\"dig -p", "`DEVLOOP_PORT_5301_TCP` names 5301/tcp");
        assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
        let text = RBL.replace(
            "steps = [",
            "steps = [\n  { run = [\"dig\", \"-p\", \"${DEVLOOP_PORT_5301_SCTP}\"] },",
        );
        refused_at(&text, "\"${DEVLOOP", "is no port variable");
        let text = RBL.replace(
            "steps = [",
            "steps = [\n  { sh = \"dig\", env = { P = \"$DEVLOOP_PORT_9_UDP\" } },",
        );
        refused_at(&text, "\"$DEVLOOP_PORT_9_UDP\"", "names 9/udp");
        let fine = RBL.replace(
            "steps = [",
            "steps = [\n  { sh = \"dig -p \\\"$DEVLOOP_PORT_5301_UDP\\\" @127.0.0.1 x\" },",
        );
        assert!(parse_str(&fine).is_ok());
    }

    #[test]
    fn a_check_placeholder_the_task_does_not_bind_names_the_task_and_its_arguments() {
        let text = format!(
            "{RBL}\n[check.listed]\ndns = \"{{host}}.senderhost.bl.rbl\"\n\n[task.fixed]\nsteps = [{{ check = \"listed\" }}]\n"
        );
        let (message, help) = refused_at(
            &text,
            "\"listed\" }]",
            "check `listed` uses `{host}`, which names no argument of task `fixed` (it takes none)",
        );
        assert!(!message.contains("metacharacter"), "{message}");
        assert!(
            help.unwrap_or_default()
                .contains("args = [{ name = \"host\" }]")
        );
        // Through a chain of checks, the arguments are listed.
        let text = format!(
            "{RBL}\n[check.outer]\ncheck = \"inner\"\n[check.inner]\ndns = \"{{zone}}.bl.rbl\"\n\n[task.two]\nargs = [{{ name = \"a\" }}, {{ name = \"b\" }}]\nsteps = [{{ check = \"outer\" }}]\n"
        );
        refused_at(
            &text,
            "\"outer\" }]",
            "check `outer` -> `inner` uses `{zone}`, which names no argument of task `two` (its arguments: `a`, `b`)",
        );
        // `each` binds what the check uses.
        let fine = format!(
            "{RBL}\n[check.zone]\ndns = \"{{zone}}.bl.rbl\"\n\n[task.zones]\nsteps = [{{ check = \"zone\", each = {{ glob = \"src/*.rs\", as = \"zone\" }} }}]\n"
        );
        assert!(parse_str(&fine).is_ok(), "{:?}", parse_str(&fine).err());
    }

    #[test]
    fn a_check_may_not_paste_the_task_arguments_into_shell_text() {
        let text = format!(
            "{RBL}\n[check.echo]\nsh = \"echo {{host}}\"\n\n[task.say]\nargs = [{{ name = \"host\" }}]\nsteps = [{{ check = \"echo\" }}]\n"
        );
        refused_at(
            &text,
            "\"echo\" }]",
            "check `echo` has `{host}` in a shell script",
        );
    }

    #[test]
    fn value_errors_point_at_the_value() {
        let text = "[service]\nimage = \"x\"\nmount = \"relative/path\"\n";
        refused_at(text, "\"relative/path\"", "must be an absolute path");
        let text = RBL.replace("{ name = \"host\",", "{ name = \"Host\",");
        refused_at(&text, "\"Host\"", "`Host` is not an argument name");
        let text = RBL.replace(
            "steps = [",
            "steps = [\n  { name = \"c\", check = \"nope\" },",
        );
        refused_at(&text, "\"nope\"", "no check named `nope`");
        let text = RBL.replace("steps = [", "steps = [\n  { exec = [] },");
        refused_at(&text, "[] }", "`exec` is an empty command");
        let text = RBL.replace("{host}.senderhost.wl.rbl", "{hots}.senderhost.wl.rbl");
        refused_at(&text, "\"{hots}", "`{hots}` names no argument");
        let text = RBL.replace("ready = {", "reload = { signal = \"HUPP\" }\nready = {");
        refused_at(&text, "\"HUPP\"", "`HUPP` is not a signal");
        let text = RBL.replace(
            "{ name = \"host\", prompt = \"Host name to test\", kind = \"host\" }",
            "{ name = \"host\" }, { name = \"host\" }",
        );
        refused_at(&text, "\"host\" }]", "declares the argument `host` twice");
    }

    /// A project directory with a devloop.toml holding `text`; its root, canonical.
    fn project(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::write(root.join(FILE_NAME), text).expect("write");
        (dir, root)
    }

    fn load_error(path: &Path) -> (usize, usize, String) {
        match load(path) {
            Err(ConfigError::Invalid(e)) => (e.line, e.column, e.message),
            other => panic!("expected an invalid-config error, got {other:?}"),
        }
    }

    const CONSTRUCT: &str = "[construct]\nscope = \"zones.yaml\"\noutputs = [\n  { template = \"t.j2\", output = \"OUT\" },\n]\n";

    #[test]
    fn construct_outputs_must_stay_in_the_project() {
        for output in ["../../../x", "/tmp/x", "conf/../../x", ""] {
            let text = CONSTRUCT.replace("OUT", output);
            let (_dir, root) = project(&text);
            let (line, column, message) = load_error(&root.join(FILE_NAME));
            assert_eq!(
                (line, column),
                position_of(&text, &format!("\"{output}\" }}")),
                "{message}"
            );
            assert!(
                message.starts_with(&format!("`construct.outputs[0].output` = `{output}`")),
                "{message}"
            );
        }
    }

    #[test]
    fn a_symlink_out_of_the_project_is_refused_for_outputs_templates_and_scope() {
        let outside = tempfile::tempdir().expect("tempdir");
        for (key, text) in [
            ("output", CONSTRUCT.replace("OUT", "conf/x")),
            (
                "template",
                CONSTRUCT.replace("OUT", "x").replace("t.j2", "conf/t.j2"),
            ),
            (
                "scope",
                CONSTRUCT
                    .replace("OUT", "x")
                    .replace("zones.yaml", "conf/zones.yaml"),
            ),
        ] {
            let (_dir, root) = project(&text);
            std::os::unix::fs::symlink(outside.path(), root.join("conf")).expect("symlink");
            let (_, _, message) = load_error(&root.join(FILE_NAME));
            assert!(
                message.contains(&format!(".{key}"))
                    || message.contains(&format!("construct.{key}")),
                "{message}"
            );
            assert!(message.contains("through the symlink conf ->"), "{message}");
        }
        // A symlink that stays inside is fine.
        let (_dir, root) = project(&CONSTRUCT.replace("OUT", "link/x"));
        std::fs::create_dir(root.join("conf")).expect("mkdir");
        std::os::unix::fs::symlink("conf", root.join("link")).expect("symlink");
        assert!(load(&root.join(FILE_NAME)).is_ok());
    }

    #[test]
    fn a_run_script_path_must_stay_in_the_project() {
        let text = RBL.replace("steps = [", "steps = [\n  { run = [\"../../bin/evil\"] },");
        refused_at(
            &text,
            "\"../../bin/evil\"",
            "the program `../../bin/evil` leads out of the project",
        );
        for fine in ["bin/check", "/usr/bin/dig", "dig", "./bin/check"] {
            let text = RBL.replace(
                "steps = [",
                &format!("steps = [\n  {{ run = [\"{fine}\"] }},"),
            );
            assert!(parse_str(&text).is_ok(), "{fine}");
        }
    }

    #[test]
    fn bad_path_patterns_point_at_the_pattern() {
        let text = "[watch]\npaths = [\"zones\", \"../elsewhere\"]\n";
        refused_at(
            text,
            "\"../elsewhere\"",
            "`watch.paths[1]` = `../elsewhere` has a `..` component",
        );
        let text = "[hook]\npaths = [\"zones/{a\"]\n";
        refused_at(
            text,
            "\"zones/{a\"",
            "`hook.paths[0]` = `zones/{a` is not a pattern",
        );
        let text = RBL.replace(
            "steps = [",
            "steps = [\n  { run = [\"true\"], each = { glob = \"../*.zone\", as = \"zone\" } },",
        );
        refused_at(&text, "\"../*.zone\"", "`each.glob` = `../*.zone`");
    }

    #[test]
    fn a_bad_output_mode_points_at_the_mode() {
        let text = "[construct]\nscope = \"s.yaml\"\noutputs = [{ template = \"t\", output = \"o\", mode = \"0999\" }]\n";
        refused_at(text, "\"0999\"", "`0999` is not a file mode");
    }

    #[test]
    fn a_devloop_toml_that_is_no_file_says_what_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        type Make = dyn Fn(&Path);
        let cases: [(&str, &Make, &str); 4] = [
            (
                "dir",
                &|p| std::fs::create_dir(p).expect("mkdir"),
                "is a directory",
            ),
            (
                "fifo",
                &|p| {
                    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
                    // SAFETY: mkfifo with a NUL-terminated path that outlives the call.
                    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
                },
                "is a FIFO",
            ),
            (
                "loop",
                &|p| std::os::unix::fs::symlink(FILE_NAME, p).expect("symlink"),
                "is a symlink loop",
            ),
            (
                "dangling",
                &|p| std::os::unix::fs::symlink("nowhere.toml", p).expect("symlink"),
                "is a symlink to nowhere.toml, which does not exist",
            ),
        ];
        for (name, make, expected) in cases {
            let project = root.join(name);
            let deep = project.join("a/b");
            std::fs::create_dir_all(&deep).expect("mkdir");
            make(&project.join(FILE_NAME));
            // Found where it is (not walked past), and reported for what it is, at once.
            let found = find(&deep).expect("found");
            assert_eq!(found, project.join(FILE_NAME));
            let started = std::time::Instant::now();
            match load(&found) {
                Err(e @ ConfigError::NotAFile { .. }) => {
                    assert!(e.to_string().contains(expected), "{name}: {e}");
                }
                other => panic!("{name}: expected NotAFile, got {other:?}"),
            }
            assert!(started.elapsed() < Duration::from_secs(2), "{name} blocked");
        }
    }

    #[test]
    fn a_devloop_toml_that_is_not_utf8_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, b"[service]\nimage = \"\xff\"\n").expect("write");
        match load(&path) {
            Err(ConfigError::NotText { line, column, .. }) => assert_eq!((line, column), (2, 10)),
            other => panic!("expected NotText, got {other:?}"),
        }
    }

    #[test]
    fn a_bare_file_name_has_the_current_directory_as_its_root() {
        // `devloop -f devloop.toml`: the root is mounted, so it must be a real directory.
        let config = parse_str("").expect("valid");
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(config.root, std::fs::canonicalize(cwd).expect("canonical"));
    }

    #[test]
    fn finds_the_file_walking_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), "").expect("write");
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        assert_eq!(find(&deep).expect("found"), dir.path().join(FILE_NAME));
    }
}
