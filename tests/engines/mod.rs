//! Two real Docker engines on one machine, for the tests of build, inspect, validate,
//! update and fleets: the usual one, and a second `dockerd` that `scripts/second-engine`
//! starts (its own socket, data root and no bridge; `scripts/test` starts it). A test that
//! needs the second engine fails, never skips, when it is not there.
//!
//! Containers and images a test makes are removed when their guards go, on both engines,
//! whether the test passed or not.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use crate::common::RBLDNSD_IMAGE;

/// The second engine's endpoint (see scripts/second-engine).
pub const ENGINE2_DEFAULT: &str = "unix:///run/devloop-engine2/docker.sock";

/// The third engine's endpoint (see scripts/third-engine): only the tests of a sick
/// engine use it.
pub const ENGINE3_DEFAULT: &str = "unix:///run/devloop-engine3/docker.sock";

/// An engine the tests talk to with the docker client.
#[derive(Debug, Clone)]
pub struct Engine {
    pub host: String,
}

impl Engine {
    /// The usual engine: `DOCKER_HOST`, else the local socket.
    pub fn first() -> Engine {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        Engine { host }
    }

    /// The second engine; fails the test when it does not answer or lacks the example image.
    pub fn second() -> Engine {
        static READY: OnceLock<Result<String, String>> = OnceLock::new();
        Engine::extra(
            &READY,
            "DEVLOOP_ENGINE2_HOST",
            ENGINE2_DEFAULT,
            "scripts/second-engine",
        )
    }

    /// The third engine, which only the tests of a sick engine use (they freeze it); fails
    /// the test when it does not answer or lacks the example image. Hold [`Engine::lease`]
    /// while using it.
    pub fn third() -> Engine {
        static READY: OnceLock<Result<String, String>> = OnceLock::new();
        Engine::extra(
            &READY,
            "DEVLOOP_ENGINE3_HOST",
            ENGINE3_DEFAULT,
            "scripts/third-engine",
        )
    }

    /// An engine a script of the repository starts, checked once per test process.
    fn extra(
        ready: &OnceLock<Result<String, String>>,
        variable: &str,
        default: &str,
        script: &str,
    ) -> Engine {
        let ready = ready.get_or_init(|| {
            let host = std::env::var(variable)
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| default.to_owned());
            let engine = Engine { host: host.clone() };
            if engine
                .docker_out(&["info", "--format", "{{.ServerVersion}}"])
                .is_none()
            {
                return Err(format!(
                    "the Docker engine at {host} does not answer: run {script} (scripts/test starts it)"
                ));
            }
            if engine
                .docker_out(&["image", "inspect", "--format", "{{.Id}}", RBLDNSD_IMAGE])
                .is_none()
            {
                return Err(format!(
                    "the engine at {host} lacks {RBLDNSD_IMAGE}: run {script}, which copies it"
                ));
            }
            Ok(host)
        });
        match ready {
            Ok(host) => Engine { host: host.clone() },
            Err(message) => panic!("{message}"),
        }
    }

    /// Sole use of this engine, across every test process and work tree on the machine
    /// (the engines are the machine's): an exclusive `flock` on a file named after it.
    pub fn lease(&self) -> std::fs::File {
        use std::os::fd::AsRawFd;
        let name: String = self
            .host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = std::env::temp_dir().join(format!("devloop-tests-{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        file
    }

    /// The process ID of this engine's dockerd, from its pid file (`--pidfile` of
    /// scripts/second-engine, in the socket's directory).
    pub fn dockerd_pid(&self) -> libc::pid_t {
        let socket = self
            .host
            .strip_prefix("unix://")
            .unwrap_or_else(|| panic!("{} is not a unix socket", self.host));
        let pid_file = Path::new(socket).with_file_name("docker.pid");
        let text = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", pid_file.display()));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{} holds no pid ({e}): {text:?}", pid_file.display()))
    }

    /// Freezes this engine's dockerd (SIGSTOP) until the guard goes, which resumes it
    /// (SIGCONT) whether the test passed or not. Never the usual engine.
    pub fn freeze(&self) -> Frozen {
        assert_ne!(
            self.host,
            Engine::first().host,
            "a test never freezes the usual engine"
        );
        let pid = self.dockerd_pid();
        assert!(pid > 1, "a real dockerd pid: {pid}");
        // SAFETY: kill(2) on the engine's own process; no memory is involved.
        let rc = unsafe { libc::kill(pid, libc::SIGSTOP) };
        assert_eq!(rc, 0, "SIGSTOP {pid}: {}", std::io::Error::last_os_error());
        Frozen { pid }
    }

    /// The names of the containers of `project` on this engine.
    pub fn project_containers(&self, project: &str) -> Vec<String> {
        let label = format!("label=devloop.project={project}");
        self.docker_out(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"])
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Removes whatever `project` left on this engine (a failed test's leftovers).
    pub fn remove_project_containers(&self, project: &str) {
        for name in self.project_containers(project) {
            let _ = self.docker_out(&["rm", "-f", "-v", &name]);
        }
    }

    /// The docker client talking to this engine, with no standard input.
    fn client(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(&self.host).stdin(Stdio::null());
        command
    }

    /// Runs the docker client against this engine; its trimmed stdout when it succeeds.
    pub fn docker_out(&self, args: &[&str]) -> Option<String> {
        let out = self.client().args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Runs the docker client; panics with its error output when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self
            .client()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
        assert!(
            out.status.success(),
            "docker -H {} {} failed:\n{}",
            self.host,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `docker build` with the legacy builder, from a Dockerfile's text, with no context.
    pub fn build(&self, tag: &str, dockerfile: &str) -> Image {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
        let out = self
            .client()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", tag])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
        assert!(
            out.status.success(),
            "docker build -t {tag} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image::adopt(self, tag)
    }

    /// Starts a long-running container of `image` with `dir` mounted read-only on
    /// /service, labelled `labels`, without a network (the second engine has no bridge;
    /// the rbldnsd example's methods only talk to 127.0.0.1 inside).
    pub fn run(&self, name: &str, image: &str, dir: &Path, labels: &[&str]) -> Container {
        let mount = format!(
            "type=bind,source={},target=/service,readonly",
            dir.display()
        );
        let mut args = vec![
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "--mount",
            &mount,
        ];
        for label in labels {
            args.push("--label");
            args.push(label);
        }
        args.push(image);
        let id = self.docker(&args);
        let container = Container {
            engine: self.clone(),
            name: name.to_owned(),
            id,
        };
        container.wait_until_answering();
        container
    }

    /// Starts a container of `image` running `sleep`, for containers that declare nothing.
    pub fn run_sleeper(&self, name: &str, image: &str, labels: &[&str]) -> Container {
        let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
        for label in labels {
            args.push("--label");
            args.push(label);
        }
        args.extend([image, "sleep", "600"]);
        let id = self.docker(&args);
        Container {
            engine: self.clone(),
            name: name.to_owned(),
            id,
        }
    }

    pub fn image_id(&self, reference: &str) -> Option<String> {
        self.docker_out(&["image", "inspect", "--format", "{{.Id}}", reference])
    }
}

/// A frozen engine; resumed when dropped.
pub struct Frozen {
    pid: libc::pid_t,
}

impl Frozen {
    /// Resumes the engine now.
    pub fn resume(self) {}
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the engine's process; no memory is involved.
        unsafe {
            libc::kill(self.pid, libc::SIGCONT);
        }
    }
}

/// A stand-in for an engine's socket that passes everything to the usual engine, until
/// the test makes the engine "go away": every connection is cut and new ones are refused,
/// as when dockerd dies (its socket file stays).
pub struct EngineProxy {
    dir: tempfile::TempDir,
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
    accepting: Option<std::thread::JoinHandle<()>>,
}

impl EngineProxy {
    pub fn start() -> EngineProxy {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::Ordering;
        let target = Engine::first()
            .host
            .strip_prefix("unix://")
            .expect("the usual engine on a unix socket")
            .to_owned();
        let dir = tempfile::Builder::new()
            .prefix("devloop-proxy-")
            .tempdir()
            .expect("tempdir");
        let listener = UnixListener::bind(dir.path().join("docker.sock")).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::<UnixStream>::new()));
        let (stop, open) = (gone.clone(), connections.clone());
        let accepting = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        continue;
                    }
                };
                let _ = client.set_nonblocking(false);
                let Ok(engine) = UnixStream::connect(&target) else {
                    continue;
                };
                let mut list = open.lock().expect("lock");
                for stream in [&client, &engine] {
                    if let Ok(clone) = stream.try_clone() {
                        list.push(clone);
                    }
                }
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone(), engine.try_clone()),
                    (engine.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
            // Dropping the listener: connecting now gives "connection refused".
        });
        EngineProxy {
            dir,
            gone,
            connections,
            accepting: Some(accepting),
        }
    }

    /// The `DOCKER_HOST` value that reaches the engine through the proxy.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    /// The engine goes away: open connections are cut, new ones refused.
    pub fn kill(&mut self) {
        self.gone.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
        for stream in self.connections.lock().expect("lock").drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A container a test started; removed (with its anonymous volumes) when dropped.
pub struct Container {
    pub engine: Engine,
    pub name: String,
    pub id: String,
}

impl Container {
    /// Runs a command in it; (exit status, stdout).
    pub fn exec(&self, argv: &[&str]) -> (i32, String) {
        let out = self
            .engine
            .client()
            .arg("exec")
            .arg(&self.name)
            .args(argv)
            .output()
            .expect("docker exec");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    }

    /// The A records rbldnsd serves for `name` (empty for NXDOMAIN), asked inside.
    pub fn dig(&self, name: &str) -> String {
        let (_, out) = self.exec(&[
            "dig",
            "+short",
            "+time=1",
            "+tries=2",
            "-p",
            "5301",
            "@127.0.0.1",
            name,
            "A",
        ]);
        out
    }

    /// Waits until rbldnsd answers at all (NXDOMAIN counts), when the image has it.
    fn wait_until_answering(&self) {
        if !self.has_rbldnsd() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, out) = self.exec(&[
                "dig",
                "+time=1",
                "+tries=1",
                "-p",
                "5301",
                "@127.0.0.1",
                "ready.senderhost.bl.rbl",
                "A",
            ]);
            if status == 0 && out.contains("status:") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "rbldnsd in {} on {} did not answer within 10 s",
                self.name,
                self.engine.host
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn has_rbldnsd(&self) -> bool {
        self.exec(&["sh", "-c", "command -v rbldnsd"]).0 == 0
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.engine.docker_out(&["rm", "-f", "-v", &self.id]);
    }
}

/// An image a test built or copied; removed (every tag, then the ID) when dropped.
pub struct Image {
    pub engine: Engine,
    pub tags: Vec<String>,
    pub id: String,
}

impl Image {
    /// Takes charge of an image that exists on `engine`.
    pub fn adopt(engine: &Engine, reference: &str) -> Image {
        let id = engine
            .image_id(reference)
            .unwrap_or_else(|| panic!("no image {reference} on {}", engine.host));
        let tags = if reference.starts_with("sha256:") {
            Vec::new()
        } else {
            vec![reference.to_owned()]
        };
        Image {
            engine: engine.clone(),
            tags,
            id,
        }
    }

    pub fn also_tagged(mut self, tag: &str) -> Image {
        self.tags.push(tag.to_owned());
        self
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        for tag in &self.tags {
            let _ = self.engine.docker_out(&["rmi", tag]);
        }
        let _ = self.engine.docker_out(&["rmi", &self.id]);
    }
}

/// A name unique to this test and process, for containers, images and labels.
pub fn unique(prefix: &str) -> String {
    crate::common::unique_name(prefix, 40)
}

/// A copy of the rbldnsd example, world-readable (the daemon runs as its own user).
pub fn example_copy() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("devloop-fleet-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let status = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rbldnsd/."))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(status.success(), "copying the example failed");
    dir
}

/// Appends a line to a zone file and moves its modification time ahead, so that rbldnsd
/// (which compares whole seconds) sees the change on its next reload.
pub fn add_zone_line(dir: &Path, zone: &str, line: &str) {
    use std::io::Write;
    let path = dir.join("zones").join(zone);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open zone");
    writeln!(file, "{line}").expect("append");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    file.set_modified(later).expect("set mtime");
}

/// Removes the line that lists `entry` from a zone file.
pub fn remove_zone_entry(dir: &Path, zone: &str, entry: &str) {
    let path = dir.join("zones").join(zone);
    let text = std::fs::read_to_string(&path).expect("read zone");
    let kept: String = text
        .lines()
        .filter(|l| l.split_whitespace().next() != Some(entry))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text, "{zone} has no line for {entry}");
    std::fs::write(&path, kept).expect("write zone");
}
