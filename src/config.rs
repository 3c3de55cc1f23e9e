//! `devloop.toml`: finding it, reading it, and saying precisely where it is wrong.
//!
//! Values that have a syntax of their own (ports, durations, patterns, record types) are
//! parsed while deserializing, so a bad one is reported at its own line and column. Rules
//! that span several keys (a step has exactly one kind) are checked afterwards, against the
//! span of the table they concern.

use std::collections::BTreeMap;
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
            ConfigError::Read { .. } => None,
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

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Walks up from `start` to the first directory holding a `devloop.toml`.
pub(crate) fn find(start: &Path) -> Result<PathBuf, ConfigError> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ConfigError::NotFound {
            start: start.to_path_buf(),
        })
}

pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, source)
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

    let root = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
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
        for arg in &spec.args {
            validate_arg(&at, arg)?;
        }
        tasks.insert(task.name.clone(), task);
    }

    let config = Config {
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

fn validate_arg(at: &Located<'_>, arg: &Spanned<ArgSpec>) -> Result<(), ConfigError> {
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
    Err(at.error(
        arg.span(),
        format!("`{name}` is not an argument name"),
        Some("argument names are lower-case letters, digits and _ (they become environment variables of sh steps)".into()),
    ))
}

fn validate(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    if let Some(service) = &config.service {
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
        }
        if !service.mount.starts_with('/') {
            return Err(at.error(
                0..0,
                format!(
                    "`service.mount` must be an absolute path in the container, not `{}`",
                    service.mount
                ),
                None,
            ));
        }
    }
    for step in config.checks.values() {
        validate_step(at, config, step, None)?;
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
        for step in &task.steps {
            validate_step(at, config, step, Some(task))?;
        }
    }
    Ok(())
}

fn validate_step(
    at: &Located<'_>,
    config: &Config,
    step: &Spanned<StepSpec>,
    task: Option<&Task>,
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
    if let Some(name) = &spec.check {
        if !config.checks.contains_key(name) {
            return Err(at.error(
                step.span(),
                format!("no check named `{name}` is defined"),
                did_you_mean(name, config.checks.keys())
                    .or_else(|| Some(format!("define it as [check.{name}]"))),
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
            return Err(at.error(
                step.span(),
                "`each` needs exactly one of `glob` or `scope`",
                Some("e.g. each = { glob = \"zones/*.zone\", as = \"zone\" }".into()),
            ));
        }
        if each.scope.is_some() && config.construct.is_none() {
            return Err(at.error(
                step.span(),
                "`each = { scope = ... }` reads the [construct] scope files, and there is no [construct] table",
                None,
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
    if let Some(task) = task {
        let mut declared: Vec<String> = task.args.iter().map(|a| a.name.clone()).collect();
        if let Some(each) = &spec.each {
            declared.push(each.bind.clone());
            declared.push(format!("{}_path", each.bind));
        }
        for text in placeholder_texts(spec) {
            for name in placeholders(text) {
                if !declared.contains(&name) {
                    return Err(at.error(
                        step.span(),
                        format!("`{{{name}}}` is not an argument of task `{}`", task.name),
                        did_you_mean(&name, declared.iter()).or_else(|| {
                            Some("declare it in the task's args = [{ name = \"...\" }]".into())
                        }),
                    ));
                }
            }
        }
        let script = spec.sh.as_deref().or_else(|| {
            [&spec.exec, &spec.run]
                .into_iter()
                .flatten()
                .find_map(|argv| shell_script(argv))
        });
        if let Some(script) = script {
            if let Some(name) = placeholders(script)
                .into_iter()
                .find(|n| task.args.iter().any(|a| &a.name == n))
            {
                return Err(at.error(
                    step.span(),
                    format!(
                        "`{{{name}}}` in a shell script would paste a task argument into shell text"
                    ),
                    Some(format!(
                        "task arguments reach commands as environment variables: write \"${name}\""
                    )),
                ));
            }
        }
    }
    Ok(())
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

/// The texts of a step into which task arguments are substituted.
pub(crate) fn placeholder_texts(spec: &StepSpec) -> Vec<&str> {
    let mut texts: Vec<&str> = Vec::new();
    texts.extend(spec.dns.as_deref());
    texts.extend(spec.rbl.as_deref());
    texts.extend(spec.zone.as_deref());
    for list in [&spec.exec, &spec.run].into_iter().flatten() {
        texts.extend(list.iter().map(String::as_str));
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
        assert!(message.contains("`{hots}` is not an argument"), "{message}");
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

    #[test]
    fn finds_the_file_walking_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), "").expect("write");
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        assert_eq!(find(&deep).expect("found"), dir.path().join(FILE_NAME));
    }
}
