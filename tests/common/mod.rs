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

#![allow(dead_code)] // every test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod xml;

/// The image the rbldnsd example runs; `scripts/images` builds it.
pub const RBLDNSD_IMAGE: &str = "devloop-example/rbldnsd:latest";

/// A name the example's black list lists and its white list does not.
pub const LISTED: &str = "sh8.mailingliststart.com";

/// The image the BIND example runs; `scripts/images` builds it.
pub const BIND_IMAGE: &str = "devloop-example/bind:latest";

/// How long any one devloop run may take before the test calls it a hang.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// How long a container may outlive the devloop process that removed it. Removal is
/// synchronous, so it should be gone already; this only absorbs the engine's bookkeeping.
const REMOVAL_GRACE: Duration = Duration::from_secs(2);

pub fn devloop_bin() -> &'static str {
    env!("CARGO_BIN_EXE_devloop")
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// Docker

/// Held by a test while it uses the Docker engine.
///
/// Every devloop run sweeps the leftovers of dead runs of *any* project, and `devloop
/// clean` removes them too. A test that makes a leftover on purpose and looks at it
/// therefore runs alone ([`require_docker_alone`]); the others share the engine. The lock
/// is a `flock` on a file in the target directory, so it also holds between test
/// processes (nextest).
pub struct DockerLease {
    _lock: File,
}

/// Fails the test, never skips it, when no Docker engine answers or the example image is
/// missing; then takes a shared lease on the engine.
pub fn require_docker() -> DockerLease {
    require_images(&[RBLDNSD_IMAGE])
}

/// Like [`require_docker`], but no other Docker test runs meanwhile.
pub fn require_docker_alone() -> DockerLease {
    engine_ready();
    assert_image(RBLDNSD_IMAGE);
    DockerLease {
        _lock: lock(libc::LOCK_EX),
    }
}

/// Like [`require_docker`], and fails the test (never skips it) when `image` is missing.
pub fn require_docker_with(image: &str) -> DockerLease {
    require_images(&[RBLDNSD_IMAGE, image])
}

/// Fails the test, never skips it, when no Docker engine answers or one of `images` is
/// missing; then takes a shared lease on the engine.
pub fn require_images(images: &[&str]) -> DockerLease {
    engine_ready();
    for image in images {
        assert_image(image);
    }
    DockerLease {
        _lock: lock(libc::LOCK_SH),
    }
}

fn engine_ready() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match info {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "no Docker engine answers: run scripts/test, which starts one\n`docker info` said: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!(
                "no Docker engine answers: run scripts/test, which starts one\n(cannot run the docker client: {e})"
            )),
        }
    });
    if let Err(message) = ready {
        panic!("{message}");
    }
}

fn assert_image(image: &str) {
    assert!(
        docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_some(),
        "the image {image} is missing: run scripts/images"
    );
}

/// A `flock` (`LOCK_SH` or `LOCK_EX`) on the suite's lock file, shared by every harness.
pub fn lock(mode: libc::c_int) -> File {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-tests.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), mode) };
    assert_eq!(
        rc,
        0,
        "flock {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    file
}

/// Runs the docker client; its trimmed stdout when it succeeds.
pub fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Seconds since the epoch, as the engine's event log counts them.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// A name unique to this test and process: `prefix`, the running test's name (at most
/// `max_chars` of it, lower case, other characters as `-`), the PID and a counter.
pub fn unique_name(prefix: &str, max_chars: usize) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let test = std::thread::current()
        .name()
        .unwrap_or("test")
        .rsplit("::")
        .next()
        .unwrap_or("test")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(max_chars)
        .collect::<String>();
    format!(
        "{prefix}-{test}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The IDs of the containers the engine created for `project` since `since` (seconds
/// since the epoch), removed or not (from the engine's event log).
pub fn containers_created(project: &str, since: f64) -> Vec<String> {
    let label = format!("label=devloop.project={project}");
    let out = docker(&[
        "events",
        "--since",
        &format!("{since:.3}"),
        "--until",
        &format!("{:.3}", now()),
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--filter",
        &label,
        "--format",
        "{{.ID}}",
    ])
    .expect("docker events");
    lines(&out)
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Project

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
    pub fn rbldnsd() -> Project {
        Project::example("rbldnsd", "")
    }

    /// A copy of `examples/rbldnsd` in the folder `relative` of a temporary directory, for
    /// work trees whose path is unusual.
    pub fn rbldnsd_at(relative: &str) -> Project {
        Project::example("rbldnsd", relative)
    }

    /// A fresh copy of `examples/bind`, named after the running test. Its devloop.toml
    /// sets `DEVLOOP_ISOLATE=1`, which keeps named from sending anything to the masters of
    /// its slave zones: keep that line in every test.
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
    pub fn containers(&self) -> Vec<String> {
        self.docker_ps(&["-a"])
    }

    /// The IDs of this project's running containers.
    pub fn running_containers(&self) -> Vec<String> {
        self.docker_ps(&["--filter", "status=running"])
    }

    /// The names of this project's containers.
    pub fn container_names(&self) -> Vec<String> {
        self.docker_ps(&["-a", "--format", "{{.Names}}"])
    }

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
    pub fn containers_created(&self) -> Vec<String> {
        containers_created(&self.name, self.since)
    }

    /// For runs that must stop before the engine is involved: not even a container that
    /// was created and removed again.
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
    pub fn inspect(&self, container: &str) -> serde_json::Value {
        let out = docker(&["inspect", "--type", "container", container])
            .unwrap_or_else(|| panic!("docker inspect {container}"));
        let mut all: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        all[0].take()
    }

    /// Every file, directory and link under the project: path -> (mode, mtime, contents).
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (u32, i64, Vec<u8>)> {
        let mut out = BTreeMap::new();
        snapshot_into(self.path(), self.path(), &mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Files of a work tree

/// The files of a test's work tree (a project, a git repository), read and edited as a
/// user would; every edit fails the test when it cannot be made.
pub trait WorkTree {
    /// The top of the work tree.
    fn path(&self) -> &Path;

    fn file(&self, relative: &str) -> PathBuf {
        self.path().join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.file(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    fn write(&self, relative: &str, contents: &str) -> &Self {
        let path = self.file(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {relative}: {e}"));
        self
    }

    fn append(&self, relative: &str, text: &str) -> &Self {
        let mut contents = self.read(relative);
        if !contents.is_empty() && !contents.ends_with('\n') {
            contents.push('\n');
        }
        contents.push_str(text);
        self.write(relative, &contents)
    }

    /// Replaces the one occurrence of `old` in a file; fails the test when there is none.
    fn replace(&self, relative: &str, old: &str, new: &str) -> &Self {
        let contents = self.read(relative);
        assert_eq!(
            contents.matches(old).count(),
            1,
            "{relative} should hold {old:?} exactly once:\n{contents}"
        );
        self.write(relative, &contents.replacen(old, new, 1))
    }

    /// Replaces the whole line that starts with `start`.
    fn replace_line(&self, relative: &str, start: &str, new: &str) -> &Self {
        let contents = self.read(relative);
        let matching: Vec<&str> = contents.lines().filter(|l| l.starts_with(start)).collect();
        assert_eq!(
            matching.len(),
            1,
            "{relative} should have one line starting with {start:?}:\n{contents}"
        );
        let old = matching[0].to_owned();
        self.replace(relative, &old, new)
    }

    /// The 1-based number of the line of a file that starts with `start`.
    fn line_of(&self, relative: &str, start: &str) -> usize {
        self.read(relative)
            .lines()
            .position(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line of {relative} starts with {start:?}"))
            + 1
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

/// Copies a directory tree into the existing directory `to`, keeping the modes (the
/// examples' scripts are executable).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read the example") {
        let entry = entry.expect("a directory entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
            let mode = entry.metadata().expect("metadata").permissions();
            std::fs::set_permissions(&target, mode).expect("chmod");
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            // fs::copy keeps the permissions (bin/* stay executable).
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn snapshot_into(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u32, i64, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let relative = path.strip_prefix(root).expect("under root").to_path_buf();
        if meta.is_dir() {
            out.insert(relative, (meta.mode(), 0, Vec::new()));
            snapshot_into(root, &path, out);
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("readlink");
            out.insert(
                relative,
                (
                    meta.mode(),
                    0,
                    target.as_os_str().as_encoded_bytes().to_vec(),
                ),
            );
        } else {
            let contents = std::fs::read(&path).expect("read");
            out.insert(
                relative,
                (
                    meta.mode(),
                    meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    contents,
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running devloop

/// A devloop command line about to run.
pub struct Devloop {
    command: Command,
    stdin: Option<String>,
    line: Vec<String>,
}

impl Devloop {
    pub fn new(dir: &Path) -> Devloop {
        let mut command = Command::new(devloop_bin());
        command.current_dir(dir).env_remove("CLICOLOR_FORCE");
        Devloop {
            command,
            stdin: None,
            line: vec!["devloop".to_owned()],
        }
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.line.push(shell_quote(arg.as_ref()));
        self.command.arg(arg.as_ref());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.line.insert(0, format!("{key}={}", shell_quote(value)));
        self.command.env(key, value);
        self
    }

    /// Text for devloop's standard input (a pipe: not a terminal).
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Starts devloop and returns at once, for tests that signal it.
    pub fn spawn(mut self) -> Running {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", devloop_bin()));
        if let (Some(text), Some(mut stdin)) = (self.stdin.take(), child.stdin.take()) {
            // devloop may exit before reading it all; that is not the test's business.
            let _ = stdin.write_all(text.as_bytes());
        }
        let stdout = child.stdout.take().map(reader);
        let stderr = child.stderr.take().map(reader);
        Running {
            child,
            stdout,
            stderr,
            started,
            line: self.line.join(" "),
        }
    }

    /// Runs devloop to its end (a hang past a minute fails the test).
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }

    /// Runs devloop with a pseudo-terminal as its standard input, output and error, as in
    /// an interactive shell, typing `input` into it.
    pub fn run_on_terminal(mut self, input: &str) -> Outcome {
        let (master, slave) = open_pty();
        let stdio = || Stdio::from(slave.try_clone().expect("dup the terminal"));
        self.command.stdin(stdio()).stdout(stdio()).stderr(stdio());
        let started = Instant::now();
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", devloop_bin()));
        // Only the child holds the terminal now, so reading it ends when devloop exits.
        drop(self.command);
        drop(slave);
        let mut master = File::from(master);
        let screen = reader(master.try_clone().expect("dup the terminal"));
        // The terminal keeps what is typed until devloop reads it, as a line.
        master.write_all(input.as_bytes()).expect("type");
        let status = wait_until(&mut child, started + RUN_DEADLINE);
        Outcome {
            status,
            // What the operator reads: colours and cursor movements taken out.
            stdout: strip_ansi(&screen.finish()),
            stderr: String::new(),
            elapsed: started.elapsed(),
            line: self.line.join(" ") + "   (on a terminal)",
        }
    }
}

/// A word as a POSIX shell reads it, so a failure shows a command line one can paste.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, and two-character ones).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty writes two descriptors into the integers given; the null pointers
    // ask for no name, default terminal settings and no window size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    for fd in [master, slave] {
        // Other tests start processes at the same time: they must not inherit these.
        // SAFETY: fcntl on descriptors just opened here.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Collects what a pipe or terminal gives until it ends.
struct Reader {
    text: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

fn reader(mut source: impl Read + Send + 'static) -> Reader {
    let text = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&text);
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // A terminal whose last user has gone reads as EIO: the end, like EOF.
        while let Ok(n) = source.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("reader lock")
                .extend_from_slice(&buf[..n]);
        }
    });
    Reader { text, thread }
}

impl Reader {
    /// What was read until now; the source may still be open.
    fn so_far(&self) -> String {
        let bytes = self.text.lock().expect("reader lock").clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// What was read; waits a little for the end, in case a grandchild still holds it.
    fn finish(self) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let bytes = self.text.lock().expect("reader lock").clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn wait_until(child: &mut Child, deadline: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("wait for devloop") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("devloop hung: still running after {RUN_DEADLINE:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A devloop process under way.
pub struct Running {
    child: Child,
    stdout: Option<Reader>,
    stderr: Option<Reader>,
    started: Instant,
    line: String,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal, as a terminal's Ctrl-C or a supervisor would.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child, which has not been reaped (we hold it).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// What devloop has written to stdout so far, while it runs.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.as_ref().map(Reader::so_far).unwrap_or_default()
    }

    /// What devloop has written to stderr so far, while it runs.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.as_ref().map(Reader::so_far).unwrap_or_default()
    }

    /// Its exit status when devloop has ended (reaped), `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for devloop")
    }

    /// Waits for devloop to end (and reaps it, so its PID is really gone).
    pub fn wait(mut self) -> Outcome {
        let status = wait_until(&mut self.child, self.started + RUN_DEADLINE);
        Outcome {
            status,
            stdout: self.stdout.take().map(Reader::finish).unwrap_or_default(),
            stderr: self.stderr.take().map(Reader::finish).unwrap_or_default(),
            elapsed: self.started.elapsed(),
            line: self.line.clone(),
        }
    }
}

impl Drop for Running {
    /// A test that fails half-way does not leave devloop running for a minute.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Outcome

/// How a devloop run ended, with chainable assertions that print everything on failure.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    line: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "$ {}", self.line)?;
        writeln!(f, "status: {:?} after {:?}", self.status, self.elapsed)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}---", self.stderr)
    }
}

impl Outcome {
    /// stdout and stderr together, for what may be on either.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "expected exit status {expected}\n{self}"
        );
        self
    }

    pub fn success(&self) -> &Self {
        self.code(0)
    }

    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout should contain {text:?}\n{self}"
        );
        self
    }

    pub fn stdout_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stdout.contains(text),
            "stdout should not contain {text:?}\n{self}"
        );
        self
    }

    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr should contain {text:?}\n{self}"
        );
        self
    }

    pub fn output_has(&self, text: &str) -> &Self {
        assert!(
            self.output().contains(text),
            "the output should contain {text:?}\n{self}"
        );
        self
    }

    pub fn output_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.output().contains(text),
            "the output should not contain {text:?}\n{self}"
        );
        self
    }

    /// A line of stdout that starts with `start`, e.g. a check's line.
    pub fn stdout_line(&self, start: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line of stdout starts with {start:?}\n{self}"))
    }

    /// Asserts that the human report shows the check passing.
    pub fn passed(&self, check: &str) -> &Self {
        let line = format!("✓ {check} (");
        assert!(
            self.stdout.lines().any(|l| l.starts_with(&line)),
            "the check {check:?} should pass\n{self}"
        );
        self
    }

    /// Asserts that the human report shows the check failing; the lines that explain it.
    pub fn failed(&self, check: &str) -> String {
        let line = format!("✗ {check} (");
        let mut lines = self.stdout.lines().skip_while(|l| !l.starts_with(&line));
        assert!(
            lines.next().is_some(),
            "the check {check:?} should fail\n{self}"
        );
        lines
            .take_while(|l| l.starts_with(' '))
            .map(|l| format!("{}\n", l.trim()))
            .collect()
    }

    pub fn within(&self, limit: Duration) -> &Self {
        assert!(
            self.elapsed <= limit,
            "expected devloop to end within {limit:?}\n{self}"
        );
        self
    }
}
