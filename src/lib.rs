//! devloop: test a service's production image against your working tree, and leave
//! nothing behind.
//!
//! The house, top floor first; a module imports only from the floors below it:
//!
//! - `app` parses the command line (`cli`, clap types only), resolves it once into
//!   `settings`, picks the command, supervises it (`signal`) and turns the result into an
//!   exit code (`error`, `exit`).
//! - `commands`: one module per command family (task runs, watch, hook, init, construct,
//!   image build and inspect, fleet validate and update).
//! - The test loop: `plan` (tasks expand to concrete steps; pure) -> `run` (one run:
//!   start the service, run the `checks`, tear down) -> `events` -> `report` (human, JSON
//!   Lines, JUnit: the only writers of stdout).
//! - `runtime`: the only module that talks to Docker.
//! - `config`: `devloop.toml`, every table of it, with errors at line:column.
//! - Leaf libraries: `dns`, `construct`, `metadata`, `git`, `paths`, `fsutil`,
//!   `shellwords`, `deadline`, `host_process`, `templates`.

mod app;
mod checks;
mod cli;
mod commands;
mod config;
mod construct;
mod deadline;
mod dns;
mod error;
mod events;
mod exit;
mod fsutil;
#[cfg(test)]
mod fuzz;
mod git;
mod host_process;
mod metadata;
mod paths;
mod plan;
mod report;
mod run;
mod runtime;
mod settings;
mod shellwords;
mod signal;
mod templates;

/// Runs devloop with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    app::main()
}
