//! Reporters: the terminal, JSON Lines and JUnit XML views of one event stream.

mod human;
mod json;
mod junit;

pub(crate) use human::Human;
pub(crate) use json::Json;
pub(crate) use junit::Junit;

/// Milliseconds, as every report shows durations.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
