//! devloop: test a service's production image against your working tree, and leave
//! nothing behind.
//!
//! The flow, one module per stage:
//! `cli` (what was typed) -> `config` (`devloop.toml`, errors with line:column) ->
//! `plan` (tasks expand to concrete steps; pure) -> `run` (one run: `runtime` starts the
//! service, `checks` run the steps) -> `events` -> `report` (human, JSON Lines, JUnit).
//! `app` ties them together and turns the result into an exit code (`exit`).

mod app;
mod checks;
mod cli;
mod config;
mod construct;
mod dns;
mod error;
mod events;
mod exit;
mod fsutil;
mod plan;
mod report;
mod run;
mod runtime;
mod shell;

/// Runs devloop with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    app::main()
}
