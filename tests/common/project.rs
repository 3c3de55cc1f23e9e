//! A test's project: a copy of one of the repository's examples in a temporary directory,
//! with a name of its own, and what the engine holds of it (its containers, which it
//! removes when it goes).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::devloop::Devloop;
use super::docker::{containers_created, docker, lines, now, unique_name};
use super::tree::{WorkTree, copy_tree, snapshot};

/// A name the example's black list lists and its white list does not.
pub const LISTED: &str = "sh8.mailingliststart.com";

/// How long a container may outlive the devloop process that removed it. Removal is
/// synchronous, so it should be gone already; this only absorbs the engine's bookkeeping.
const REMOVAL_GRACE: Duration = Duration::from_secs(2);

/// The top of the repository, where `examples/` is.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of an example project in a temporary directory, with a name of its own.
pub struct Project {
    dir: tempfile::TempDir,
    /// Where the example was copied: the temporary directory or a folder in it.
    root: PathBuf,
    name: String,
    /// When the copy was made, in the engine's terms (seconds since the epoch): the events
    /// of this project's containers come after it.
    since: f64,
}

impl Project {
    /// A fresh copy of `examples/rbldnsd`, named after the running test.
    #[track_caller]
    pub fn rbldnsd() -> Project {
        Project::example("rbldnsd", "")
    }

    /// A copy of `examples/rbldnsd` in the folder `relative` of a temporary directory, for
    /// work trees whose path is unusual.
    #[track_caller]
    pub fn rbldnsd_at(relative: &str) -> Project {
        Project::example("rbldnsd", relative)
    }

    /// A fresh copy of `examples/bind`, named after the running test. Its devloop.toml
    /// sets `DEVLOOP_ISOLATE=1`, which keeps named from sending anything to the masters of
    /// its slave zones: keep that line in every test.
    #[track_caller]
    pub fn bind() -> Project {
        let project = Project::example("bind", "");
        assert!(
            project
                .read("devloop.toml")
                .contains("DEVLOOP_ISOLATE = \"1\""),
            "examples/bind/devloop.toml must set DEVLOOP_ISOLATE=1"
        );
        project
    }

    #[track_caller]
    pub fn example(example: &str, relative: &str) -> Project {
        let since = now() - 1.0;
        let name = unique_name("t", usize::MAX);
        let dir = tempfile::Builder::new()
            .prefix(&format!("devloop-{example}-"))
            .tempdir()
            .expect("a temporary directory");
        // A checkout is world-readable; the daemon in the image runs as its own user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the temporary directory");
        let root = dir.path().join(relative);
        std::fs::create_dir_all(&root).expect("mkdir");
        copy_tree(&repo_root().join("examples").join(example), &root);
        let project = Project {
            dir,
            root,
            name,
            since,
        };
        let old = format!("name = \"{example}\"");
        let new = format!("name = \"{}\"", project.name);
        project.replace("devloop.toml", &old, &new);
        project
    }

    /// The project's name, as in its containers' `devloop.project` label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes the service never become ready: the run waits for a log line that never
    /// comes, until a signal ends it.
    #[track_caller]
    pub fn never_ready(&self) -> &Self {
        self.replace_line(
            "devloop.toml",
            "ready = ",
            "ready = { log = \"this never appears\", timeout = \"60s\" }",
        )
    }

    /// devloop, about to run in this project's directory.
    pub fn devloop(&self) -> Devloop {
        Devloop::new(self.path())
    }

    /// The IDs of this project's containers, running or not.
    #[track_caller]
    pub fn containers(&self) -> Vec<String> {
        self.docker_ps(&["-a"])
    }

    /// The IDs of this project's running containers.
    #[track_caller]
    pub fn running_containers(&self) -> Vec<String> {
        self.docker_ps(&["--filter", "status=running"])
    }

    /// The names of this project's containers.
    #[track_caller]
    pub fn container_names(&self) -> Vec<String> {
        self.docker_ps(&["-a", "--format", "{{.Names}}"])
    }

    #[track_caller]
    fn docker_ps(&self, extra: &[&str]) -> Vec<String> {
        let label = format!("label=devloop.project={}", self.name);
        let mut args = vec!["ps", "--no-trunc", "--filter", &label];
        args.extend_from_slice(extra);
        if !extra.contains(&"--format") {
            args.push("-q");
        }
        let out = docker(&args).expect("docker ps");
        lines(&out)
    }

    /// Waits until one of this project's containers runs; its name.
    #[track_caller]
    pub fn wait_for_running_container(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if !self.running_containers().is_empty() {
                let names = self.container_names();
                assert_eq!(names.len(), 1, "one container expected: {names:?}");
                return names[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no container of {} was running within {within:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every Docker test ends here: no container of this project is left.
    #[track_caller]
    pub fn assert_no_container_left(&self) {
        let deadline = Instant::now() + REMOVAL_GRACE;
        loop {
            let left = self.container_names();
            if left.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                let states = docker(&[
                    "ps",
                    "-a",
                    "--filter",
                    &format!("label=devloop.project={}", self.name),
                    "--format",
                    "{{.Names}} {{.Status}}",
                ])
                .unwrap_or_default();
                panic!("containers of {} were left behind:\n{states}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The IDs of the containers the engine created for this project so far, removed or
    /// not (from the engine's event log).
    #[track_caller]
    pub fn containers_created(&self) -> Vec<String> {
        containers_created(&self.name, self.since)
    }

    /// For runs that must stop before the engine is involved: not even a container that
    /// was created and removed again.
    #[track_caller]
    pub fn assert_no_container_created(&self) {
        let created = self.containers_created();
        assert!(
            created.is_empty(),
            "containers of {} were created: {created:?}",
            self.name
        );
        self.assert_no_container_left();
    }

    /// `docker inspect` of one of this project's containers, as JSON.
    #[track_caller]
    pub fn inspect(&self, container: &str) -> serde_json::Value {
        let Some(out) = docker(&["inspect", "--type", "container", container]) else {
            panic!("docker inspect {container}");
        };
        let mut all: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        all[0].take()
    }

    /// Every file, directory and link under the project: path -> (mode, mtime, contents).
    #[track_caller]
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (u32, i64, Vec<u8>)> {
        snapshot(self.path())
    }
}

impl WorkTree for Project {
    fn path(&self) -> &Path {
        &self.root
    }
}

impl Drop for Project {
    /// A failed test must not leave its containers to the next one: remove what is left
    /// of this project (and only of this project).
    fn drop(&mut self) {
        let label = format!("label=devloop.project={}", self.name);
        if let Some(ids) = docker(&["ps", "-a", "-q", "--filter", &label]) {
            for id in lines(&ids) {
                let _ = docker(&["rm", "-f", "-v", &id]);
            }
        }
    }
}
