//! The harness of the hook and init tests: a real git repository in a temporary
//! directory (usually a copy of an example project), with devloop, git and pre-commit run
//! in it as a user would run them.
//!
//! ```ignore
//! let _docker = require_docker();
//! let repo = GitRepo::example("rbldnsd");
//! repo.devloop(&["hook", "install"]).success();
//! repo.stage("zones/bl", &bad).write("zones/bl", &good);
//! repo.commit("bad").failure().output_has("✗ sh8.mailingliststart.com is blacklisted");
//! repo.assert_no_container_left();
//! ```
//!
//! Every repository gets a unique `[project] name`, so tests run in parallel and each
//! counts only its own containers (label `devloop.project=<name>`). git runs without the
//! machine's global and system configuration, so hooks paths and templates from outside
//! cannot change what a test sees. Docker tests share the suite's lock on the engine (a
//! test that makes a leftover on purpose takes it alone).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::{RBLDNSD_IMAGE, repo_root, require_images as require_docker};
use crate::common::{WorkTree, containers_created, copy_tree, docker, lines, now, unique_name};

/// How long one command (a commit runs the hook, which runs a container) may take.
const DEADLINE: Duration = Duration::from_secs(120);

pub fn devloop_bin() -> PathBuf {
    PathBuf::from(crate::common::devloop_bin())
}

// ---------------------------------------------------------------------------------------
// Running commands

/// What a finished command said.
#[derive(Debug)]
pub struct Outcome {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Outcome {
    fn show(&self) -> String {
        format!(
            "{} exited {:?} after {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.what, self.code, self.took, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{}", self.show());
        self
    }

    #[track_caller]
    pub fn failure(&self) -> &Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a failure: {}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.show());
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}: {}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {}",
            self.show()
        );
        self
    }

    /// stdout or stderr: a hook's output reaches the user on git's stderr.
    #[track_caller]
    pub fn output_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "the output lacks {text:?}: {}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn output_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "the output has {text:?}: {}",
            self.show()
        );
        self
    }
}

/// Runs `command` to its end (failing the test after [`DEADLINE`]), with its output
/// collected from files so that no pipe can fill up.
pub fn run(mut command: Command, what: String) -> Outcome {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let out_path = scratch.path().join("stdout");
    let err_path = scratch.path().join("stderr");
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still ran after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |path: &Path| {
        let mut text = String::new();
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .expect("read output");
        text
    };
    Outcome {
        what,
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
        took: started.elapsed(),
    }
}

// ---------------------------------------------------------------------------------------
// Repositories

/// A git repository in a temporary directory.
pub struct GitRepo {
    dir: tempfile::TempDir,
    root: PathBuf,
    name: String,
    /// Where devloop puts its temporary files (the staged trees): empty after every run.
    tmp: PathBuf,
    since: f64,
}

impl GitRepo {
    /// An empty repository (no commit), with a user set locally.
    pub fn empty() -> GitRepo {
        GitRepo::new(None)
    }

    /// A copy of `examples/<example>` with a project name of its own, committed.
    pub fn example(example: &str) -> GitRepo {
        let repo = GitRepo::new(Some(example));
        let old = format!("name = \"{example}\"");
        let new = format!("name = \"{}\"", repo.name);
        repo.replace("devloop.toml", &old, &new);
        repo.git(&["add", "-A"]).success();
        repo.git(&["commit", "-q", "--no-verify", "-m", "initial"])
            .success();
        repo
    }

    /// A copy of `examples/<example>` without its devloop.toml, nothing committed.
    pub fn example_without_config(example: &str) -> GitRepo {
        let repo = GitRepo::new(Some(example));
        std::fs::remove_file(repo.file("devloop.toml")).expect("remove devloop.toml");
        repo
    }

    fn new(example: Option<&str>) -> GitRepo {
        let name = unique_name("t", 24);
        let dir = tempfile::Builder::new()
            .prefix("devloop-git-")
            .tempdir()
            .expect("a temporary directory");
        // A checkout is world-readable; daemons in images run as their own user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        // Named like the project: a project without a [project] name takes it.
        let root = dir.path().join(&name);
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&root).expect("mkdir repo");
        std::fs::create_dir_all(&tmp).expect("mkdir tmp");
        std::fs::write(dir.path().join("gitconfig"), "").expect("gitconfig");
        if let Some(example) = example {
            copy_tree(&repo_root().join("examples").join(example), &root);
        }
        let repo = GitRepo {
            dir,
            root,
            name,
            tmp,
            since: now() - 1.0,
        };
        repo.git(&["init", "-q", "-b", "main"]).success();
        repo.git(&["config", "user.name", "devloop test"]).success();
        repo.git(&["config", "user.email", "test@devloop.invalid"])
            .success();
        repo
    }

    /// The project's name, as in its containers' `devloop.project` label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `contents` to a file and stages it.
    pub fn stage(&self, relative: &str, contents: &str) -> &Self {
        self.write(relative, contents);
        self.git(&["add", "--", relative]).success();
        self
    }

    /// The environment every command of a test runs in.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(&self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.dir.path().join("gitconfig"))
            .env("TMPDIR", &self.tmp)
            .env("NO_COLOR", "1")
            .env("PRE_COMMIT_HOME", self.dir.path().join("pre-commit-home"))
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_WORK_TREE");
        command
    }

    pub fn git(&self, args: &[&str]) -> Outcome {
        let mut command = self.command("git");
        command.args(args);
        run(command, format!("git {}", args.join(" ")))
    }

    /// git's stdout, which must succeed.
    pub fn git_out(&self, args: &[&str]) -> String {
        self.git(args).success().stdout.clone()
    }

    pub fn devloop(&self, args: &[&str]) -> Outcome {
        self.devloop_in(&self.root, args)
    }

    pub fn devloop_in(&self, dir: &Path, args: &[&str]) -> Outcome {
        let mut command = self.command(devloop_bin());
        command.current_dir(dir).args(args);
        let outcome = run(command, format!("devloop {}", args.join(" ")));
        self.assert_no_staged_tree_left();
        outcome
    }

    /// devloop started in the background, its output discarded; the test signals it.
    pub fn spawn_devloop(&self, args: &[&str]) -> std::process::Child {
        let mut command = self.command(devloop_bin());
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start devloop")
    }

    /// Waits until one of this project's containers runs.
    #[track_caller]
    pub fn wait_for_running_container(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let label = format!("label=devloop.project={}", self.name);
        loop {
            let running = docker(&["ps", "-q", "--filter", &label, "--filter", "status=running"])
                .unwrap_or_default();
            if !running.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no container of {} ran within {within:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `git commit -m MESSAGE` with extra arguments; the pre-commit hook runs.
    pub fn commit(&self, message: &str, extra: &[&str]) -> Outcome {
        let mut args = vec!["commit", "-m", message];
        args.extend_from_slice(extra);
        let outcome = self.git(&args);
        self.assert_no_staged_tree_left();
        outcome
    }

    /// Any other program, run in the repository with the test's environment, and with
    /// devloop's directory first on PATH.
    pub fn program(&self, program: &str, args: &[&str]) -> Outcome {
        let mut command = self.command(program);
        let bin = devloop_bin();
        let dir = bin.parent().expect("devloop's directory");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        command
            .env("PATH", std::env::join_paths(paths).expect("PATH"))
            .args(args);
        let outcome = run(command, format!("{program} {}", args.join(" ")));
        self.assert_no_staged_tree_left();
        outcome
    }

    pub fn head(&self) -> String {
        self.git_out(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Everything a run must leave as it found: every file of the work tree (content and
    /// mode), the index (its entries, and what differs from HEAD and from the work tree),
    /// the untracked files and the stash.
    pub fn snapshot(&self) -> Snapshot {
        let mut files = Vec::new();
        walk(&self.root, &self.root, &mut files);
        Snapshot {
            files,
            index_entries: self.git_out(&["ls-files", "-s"]),
            staged_diff: self.git_out(&["diff", "--cached"]),
            unstaged_diff: self.git_out(&["diff"]),
            untracked: self.git_out(&["ls-files", "--others", "--exclude-standard"]),
            stash: self.git_out(&["stash", "list"]),
        }
    }

    /// The index file itself, byte for byte.
    pub fn index_bytes(&self) -> Vec<u8> {
        std::fs::read(self.root.join(".git/index")).expect("read .git/index")
    }

    /// The IDs of this project's containers, in any state.
    pub fn containers(&self) -> Vec<String> {
        let label = format!("label=devloop.project={}", self.name);
        let out = docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            "label=devloop.owner=devloop",
            "--filter",
            &label,
        ])
        .expect("docker ps");
        lines(&out)
    }

    /// The containers the engine created for this project so far, removed or not.
    pub fn containers_created(&self) -> Vec<String> {
        containers_created(&self.name, self.since)
    }

    /// Every Docker test ends here.
    #[track_caller]
    pub fn assert_no_container_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = self.containers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containers of {} were left behind: {left:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// devloop removes its staged tree on every path out.
    #[track_caller]
    pub fn assert_no_staged_tree_left(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.tmp)
            .expect("read the temporary directory")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("devloop-staged-"))
            .collect();
        assert!(left.is_empty(), "staged trees left behind: {left:?}");
    }
}

impl WorkTree for GitRepo {
    fn path(&self) -> &Path {
        &self.root
    }
}

/// What [`GitRepo::snapshot`] records.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub files: Vec<(String, u32, Vec<u8>)>,
    pub index_entries: String,
    pub staged_diff: String,
    pub unstaged_diff: String,
    pub untracked: String,
    pub stash: String,
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let relative = path
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        if relative == ".git" {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            walk(root, &path, out);
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("readlink");
            out.push((
                relative,
                meta.mode(),
                target.to_string_lossy().into_owned().into_bytes(),
            ));
        } else {
            out.push((relative, meta.mode(), std::fs::read(&path).expect("read")));
        }
    }
}
