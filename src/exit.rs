//! The exit codes devloop promises, in one place.
//!
//! Scripts and CI branch on these, so they never change meaning.

/// Every check passed.
pub(crate) const PASSED: i32 = 0;
/// At least one check failed: the service answered, but not as declared.
pub(crate) const CHECK_FAILED: i32 = 1;
/// The command line or `devloop.toml` is wrong; nothing was started.
pub(crate) const USAGE: i32 = 2;
/// The environment failed: no Docker engine, no image, a container that died, an engine
/// that stopped answering, a container that could not be removed.
pub(crate) const ENVIRONMENT: i32 = 3;
/// Hung up on by SIGHUP (128 + 1: a closed terminal, tmux pane or ssh session), after
/// cleaning up.
pub(crate) const HUNG_UP: i32 = 129;
/// Interrupted by SIGINT (128 + 2), after cleaning up.
pub(crate) const INTERRUPTED: i32 = 130;
/// Quit by SIGQUIT (128 + 3), after cleaning up.
pub(crate) const QUIT: i32 = 131;
/// Terminated by SIGTERM (128 + 15), after cleaning up.
pub(crate) const TERMINATED: i32 = 143;
