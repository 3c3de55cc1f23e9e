//! The harness of the integration tests: a copy of an example project in a temporary
//! directory, devloop run in it as a user would run it, and assertions that read like the
//! sentence the test states.
//!
//! ```ignore
//! let _docker = require_docker();
//! let project = Project::rbldnsd();
//! project.devloop().args(["test:host", "sh8.mailingliststart.com"]).run()
//!     .success()
//!     .stdout_has("✓ black list");
//! project.assert_no_container_left();
//! ```
//!
//! Each project gets a unique `[project] name`, so tests run in parallel and each counts
//! only its own containers (label `devloop.project=<name>`). The harness talks to nothing
//! but the Docker engine and the containers of its own projects.
//!
//! One file per concern, in the order a test meets them: `docker` (the engine is there and
//! leased, the docker client, unique names), `project` (the example's copy and its
//! containers), `tree` (its files, edited and snapshotted), `devloop` (the command line
//! and the running process), `outcome` (how the run ended, and the assertions on it);
//! `xml` reads JUnit reports. Every assertion is `#[track_caller]`: a failure names the
//! test's line, not the harness's. The other harnesses (`tests/engines`, `tests/gitrepo`)
//! build on this one.

#![allow(dead_code)] // every test binary uses a different part of the harness

mod devloop;
mod docker;
mod outcome;
mod project;
mod tree;
pub mod xml;

// What each test binary takes from the harness differs, so some re-exports go unused in
// each; the lint is off for these lines only.
#[allow(unused_imports)]
pub use devloop::{Devloop, Running, devloop_bin};
#[allow(unused_imports)]
pub use docker::{
    BIND_IMAGE, DockerLease, RBLDNSD_IMAGE, containers_created, docker, flock, lines, lock, now,
    require_docker, require_docker_alone, require_docker_with, require_images, unique_name,
};
#[allow(unused_imports)]
pub use outcome::Outcome;
#[allow(unused_imports)]
pub use project::{LISTED, Project, repo_root};
#[allow(unused_imports)]
pub use tree::{WorkTree, copy_tree, snapshot};
