//! Values with a syntax of their own (record types, ports, durations, patterns), parsed
//! while deserializing so that a bad one is reported at its own line and column.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::dns::RecordKind;

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
