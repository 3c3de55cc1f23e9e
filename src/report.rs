//! Reporters: the terminal, JSON Lines and JUnit XML views of one event stream, and the
//! only writers of stdout (but for the shell's terminal, which `runtime::attach` relays).

mod human;
mod json;
mod junit;

pub(crate) use human::Human;
pub(crate) use json::Json;
pub(crate) use junit::Junit;

/// An image ID as the tables show it: the first 12 hex digits.
pub(crate) fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Milliseconds, as every report shows durations.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
