//! `[service]`: the container the checks run against, how to tell it is ready, and how it
//! reloads changed files.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ContainerPort, DurationSpec, Pattern};

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
