//! devloop: test a service's production image against your working tree, and leave
//! nothing behind.
//!
//! The flow, one module per stage:
//! `cli` (what was typed) -> `config` (`devloop.toml`, errors with line:column) ->
//! `plan` (tasks expand to concrete steps; pure) -> `run` (one run: `runtime` starts the
//! service, `checks` run the steps) -> `events` -> `report` (human, JSON Lines, JUnit).
//! `app` ties them together and turns the result into an exit code (`exit`).
//! Around the loop: `init` writes a `devloop.toml` from a template; `hook` is the git
//! pre-commit hook, which runs a task on `staged` (the index, exported by `git`).
//! Image metadata and lifecycle: `build` stamps the labels `metadata` defines, `inspect`
//! reads them for an image and its ancestors, `lifecycle` runs a container's methods in
//! place and `fleet` rolls them over several engines; `parity` pins a run to the image a
//! running container uses. `paths` keeps every path of the config inside the project and
//! is the one pattern dialect of `[watch]`, `[hook]` and `each`.

mod app;
mod build;
mod checks;
mod cli;
mod config;
mod construct;
mod deadline;
mod dns;
mod error;
mod events;
mod exit;
mod fleet;
mod fsutil;
#[cfg(test)]
mod fuzz;
mod git;
mod hook;
mod host_process;
mod init;
mod inspect;
mod lifecycle;
mod metadata;
mod parity;
mod paths;
mod plan;
mod report;
mod run;
mod runtime;
mod shell;
mod shellwords;
mod staged;
mod watch;

/// Runs devloop with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    app::main()
}
