//! One step of a task, or a named check, as written: exactly one kind key, and the keys
//! that mean something for that kind.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ContainerPort, DurationSpec, Pattern, RecordKindSpec};

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
    pub(super) fn kinds(&self) -> Vec<&'static str> {
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
    pub(super) fn stray_keys(&self) -> Vec<&'static str> {
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
