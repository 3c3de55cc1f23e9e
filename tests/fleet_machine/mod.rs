//! The fleet on this machine that `scripts/fleet --production` starts (scripts/test starts
//! it): extra Docker engines reached over unix sockets, TLS and SSH, each running the
//! examples as production does, from a bare git repository on the host. This module reads
//! the fleet's description (fleet.json), talks to each engine over the transport it
//! declares, and changes what production serves through that repository.
//!
//! A test that needs the fleet fails, never skips, when it is not up, and never starts it
//! itself: the engines outlive any test, and a test leaves no process behind.

#![allow(dead_code)] // each test binary uses a different part

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where scripts/fleet writes the description unless DEVLOOP_FLEET_DIR says otherwise.
const DEFAULT_RUN_DIR: &str = "/run/devloop-fleet";

/// A command of the docker client may take this long before the test calls it a hang.
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// The fleet as its description says, checked to be up.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub engines: Vec<FleetEngine>,
    /// The client directories (ca.pem, cert.pem, key.pem) for DOCKER_CERT_PATH.
    pub client_certs: PathBuf,
    /// The right CA, with a client certificate of another CA: every TLS engine refuses it.
    pub wrong_client_certs: PathBuf,
    description: Value,
}

/// How the docker client reaches an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Unix(String),
    /// tcp://127.0.0.1:PORT with --tlsverify, and the client certificate directory.
    Tls {
        host: String,
        certs: PathBuf,
    },
    /// ssh://ALIAS; the port and key come from the Host block of the ssh config.
    Ssh(String),
    /// tcp:// without TLS: what a client that forgot its certificates does.
    Plain(String),
}

impl Transport {
    pub fn host(&self) -> &str {
        match self {
            Transport::Unix(h)
            | Transport::Tls { host: h, .. }
            | Transport::Ssh(h)
            | Transport::Plain(h) => h,
        }
    }
}

/// One engine of the fleet.
#[derive(Debug, Clone)]
pub struct FleetEngine {
    pub name: String,
    pub data_root: String,
    pub unix: Transport,
    pub tls: Option<Transport>,
    pub ssh: Option<Transport>,
    /// The transport the fleet prefers for it (ssh, else TLS, else unix).
    pub preferred: Transport,
    /// The names of its production containers.
    pub containers: Vec<String>,
}

fn str_at<'a>(value: &'a Value, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("the fleet description lacks {what}.{key}: {value}"))
}

impl Fleet {
    /// The fleet with production containers; fails the test with what to run when it is
    /// not up.
    pub fn production() -> Fleet {
        let fleet = Fleet::up();
        for engine in &fleet.engines {
            for name in ["rbldnsd", "bind"] {
                assert!(
                    engine.containers.iter().any(|c| c == name),
                    "{} runs no production container {name}: run scripts/fleet --production (scripts/test does)",
                    engine.name
                );
            }
        }
        fleet
    }

    /// The fleet, each engine answering on its socket; fails the test with what to run
    /// when it is not up.
    pub fn up() -> Fleet {
        let run_dir = std::env::var("DEVLOOP_FLEET_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| DEFAULT_RUN_DIR.to_owned());
        let path = Path::new(&run_dir).join("fleet.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the fleet is not up ({}: {e}): run scripts/fleet --production (scripts/test does)",
                path.display()
            )
        });
        let description: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let tls = &description["tls"];
        let client_certs = PathBuf::from(str_at(tls, "client_cert_path", "tls"));
        let wrong_client_certs = PathBuf::from(str_at(tls, "wrong_client_cert_path", "tls"));
        let engines: Vec<FleetEngine> = description["engines"]
            .as_array()
            .unwrap_or_else(|| panic!("{} lists no engines", path.display()))
            .iter()
            .map(|e| {
                let tls = e["tls"]["host"].as_str().map(|h| Transport::Tls {
                    host: h.to_owned(),
                    certs: PathBuf::from(str_at(&e["tls"], "cert_path", "engine.tls")),
                });
                let ssh = e["ssh"]["host"]
                    .as_str()
                    .map(|h| Transport::Ssh(h.to_owned()));
                let unix = Transport::Unix(str_at(e, "unix", "engine").to_owned());
                let preferred = ssh
                    .clone()
                    .or_else(|| tls.clone())
                    .unwrap_or_else(|| unix.clone());
                FleetEngine {
                    name: str_at(e, "name", "engine").to_owned(),
                    data_root: str_at(e, "data_root", "engine").to_owned(),
                    unix,
                    tls,
                    ssh,
                    preferred,
                    containers: e["containers"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| c.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        assert!(
            !engines.is_empty(),
            "{} lists no engines: run scripts/fleet --production",
            path.display()
        );
        for engine in &engines {
            let out = engine.docker(&engine.unix, &["info", "--format", "{{.DockerRootDir}}"]);
            assert!(
                out.status.success() && stdout(&out) == engine.data_root,
                "{} does not answer on {} as {} says: run scripts/fleet --production (scripts/test does)\n{}",
                engine.name,
                engine.unix.host(),
                path.display(),
                show(&out)
            );
        }
        Fleet {
            engines,
            client_certs,
            wrong_client_certs,
            description,
        }
    }

    /// The production facts of `example` (rbldnsd, bind): its bare repository on the host.
    pub fn repository(&self, example: &str) -> PathBuf {
        let production = &self.description["production"][example];
        PathBuf::from(str_at(production, "repo", "production"))
    }

    /// Holds off every other user of `example`'s production state (its repository and
    /// what the containers serve) until dropped: a `flock` on the file the description
    /// names, shared with the bench and with other test processes.
    pub fn lock_production(&self, example: &str) -> File {
        let path = str_at(
            &self.description["production"][example],
            "lock",
            "production",
        );
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {path}: {}", std::io::Error::last_os_error());
        file
    }
}

impl FleetEngine {
    /// Every transport it declares, the unix socket first.
    pub fn transports(&self) -> Vec<&Transport> {
        std::iter::once(&self.unix)
            .chain(self.tls.iter())
            .chain(self.ssh.iter())
            .collect()
    }

    /// The docker client reaching this engine over `transport`, configured by flags and
    /// nothing the test process's environment says.
    pub fn client(&self, transport: &Transport) -> Command {
        let mut command = Command::new("docker");
        command
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null());
        command.arg("-H").arg(transport.host());
        if let Transport::Tls { certs, .. } = transport {
            command
                .arg("--tlsverify")
                .arg("--tlscacert")
                .arg(certs.join("ca.pem"))
                .arg("--tlscert")
                .arg(certs.join("cert.pem"))
                .arg("--tlskey")
                .arg(certs.join("key.pem"));
        }
        command
    }

    /// Runs the docker client over `transport`, within the deadline.
    pub fn docker(&self, transport: &Transport, args: &[&str]) -> Output {
        run(self.client(transport).args(args))
    }

    /// Runs `argv` in container `name` over the preferred transport, with `env` set in
    /// the exec (as `devloop update` passes DEVLOOP_REVISION).
    pub fn exec(&self, name: &str, env: &[(&str, &str)], argv: &[&str]) -> Output {
        self.exec_over(&self.preferred, name, env, argv)
    }

    /// Runs `argv` in container `name` over the unix socket: for looking at what a
    /// container serves (an exec over SSH costs most of a second, over the socket a tenth).
    pub fn look(&self, name: &str, argv: &[&str]) -> Output {
        self.exec_over(&self.unix, name, &[], argv)
    }

    fn exec_over(
        &self,
        transport: &Transport,
        name: &str,
        env: &[(&str, &str)],
        argv: &[&str],
    ) -> Output {
        let mut command = self.client(transport);
        command.arg("exec");
        for (key, value) in env {
            command.arg("-e").arg(format!("{key}={value}"));
        }
        run(command.arg(name).args(argv))
    }

    /// The A records rbldnsd in container `rbldnsd` serves for each of `names`, as `dig
    /// +short` says them on one line (empty for NXDOMAIN), asked in one exec.
    pub fn rbldnsd_answers(&self, names: &[&str]) -> Vec<String> {
        let queries: Vec<(&str, &str)> = names.iter().map(|n| (*n, "A")).collect();
        self.dig("rbldnsd", "5301", &queries)
    }

    /// What the named of container `bind` answers for each (name, type), as
    /// [`FleetEngine::rbldnsd_answers`] does.
    pub fn bind_answers(&self, queries: &[(&str, &str)]) -> Vec<String> {
        self.dig("bind", "5300", queries)
    }

    fn dig(&self, container: &str, port: &str, queries: &[(&str, &str)]) -> Vec<String> {
        // One line per query, in order: the answers of `dig +short` joined by spaces.
        let script = "port=$1; shift; while [ $# -gt 1 ]; do \
            dig +short +time=1 +tries=2 +norecurse -p \"$port\" @127.0.0.1 \"$1\" \"$2\" \
              | tr '\\n' ' ' || exit 1; echo; shift 2; done";
        let mut argv = vec!["sh", "-c", script, "sh", port];
        for (name, rtype) in queries {
            argv.extend([*name, *rtype]);
        }
        let out = self.look(container, &argv);
        assert!(
            out.status.success(),
            "dig in {container} on {}\n{}",
            self.name,
            show(&out)
        );
        let answers: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .collect();
        assert_eq!(
            answers.len(),
            queries.len(),
            "one answer line per query\n{}",
            show(&out)
        );
        answers
    }
}

/// Runs a command to its end; kills it and panics when it outlives [`COMMAND_DEADLINE`].
pub fn run(command: &mut Command) -> Output {
    let what = format!("{command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < COMMAND_DEADLINE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {COMMAND_DEADLINE:?}");
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// A finished command's status and output, for a failure message.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n---",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------------
// The production repository

/// A clone of one example's bare repository in a temporary directory, to commit and push
/// from as a person would. git runs without the machine's global and system settings.
pub struct Checkout {
    dir: tempfile::TempDir,
    example: String,
    origin: PathBuf,
}

impl Checkout {
    pub fn clone(fleet: &Fleet, example: &str) -> Checkout {
        let dir = tempfile::Builder::new()
            .prefix("devloop-fleet-checkout-")
            .tempdir()
            .expect("tempdir");
        let origin = fleet.repository(example);
        let checkout = Checkout {
            dir,
            example: example.to_owned(),
            origin: origin.clone(),
        };
        checkout.git_in(
            Path::new("/"),
            &[
                "clone",
                "--quiet",
                &origin.display().to_string(),
                &checkout.path().display().to_string(),
            ],
        );
        checkout
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = run(Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "devloop test")
            .env("GIT_AUTHOR_EMAIL", "test@devloop.invalid")
            .env("GIT_COMMITTER_NAME", "devloop test")
            .env("GIT_COMMITTER_EMAIL", "test@devloop.invalid")
            .args(args));
        assert!(
            out.status.success(),
            "git {}\n{}",
            args.join(" "),
            show(&out)
        );
        stdout(&out)
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.path(), args)
    }

    /// Makes the work tree exactly this checkout's `examples/<example>` (whatever an
    /// earlier commit left), then lets `edit` change it.
    pub fn reset_to_example(&self, edit: impl FnOnce(&Path)) {
        let work = self.path();
        for entry in std::fs::read_dir(&work).expect("read the work tree") {
            let entry = entry.expect("dir entry");
            if entry.file_name() != ".git" {
                let path = entry.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).expect("remove dir");
                } else {
                    std::fs::remove_file(&path).expect("remove file");
                }
            }
        }
        let example = crate::common::repo_root()
            .join("examples")
            .join(&self.example);
        let status = Command::new("cp")
            .arg("-a")
            .arg(example.join("."))
            .arg(&work)
            .status()
            .expect("cp");
        assert!(status.success(), "copying {} failed", example.display());
        edit(&work);
    }

    /// Commits everything as `message` and pushes it to `branch`; the commit's ID.
    pub fn commit_and_push(&self, message: &str, branch: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("HEAD:refs/heads/{branch}"),
        ]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Puts `branch` back on the example as it is in this checkout, reporting failure
    /// instead of panicking (it runs while a failed test unwinds).
    pub fn try_restore(&self, branch: &str) -> bool {
        let work = self.path();
        let example = crate::common::repo_root()
            .join("examples")
            .join(&self.example);
        let Ok(entries) = std::fs::read_dir(&work) else {
            return false;
        };
        for entry in entries.flatten() {
            if entry.file_name() != ".git" {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
        let git = |args: &[&str]| {
            Command::new("git")
                .current_dir(&work)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "devloop test")
                .env("GIT_AUTHOR_EMAIL", "test@devloop.invalid")
                .env("GIT_COMMITTER_NAME", "devloop test")
                .env("GIT_COMMITTER_EMAIL", "test@devloop.invalid")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let copied = Command::new("cp")
            .arg("-a")
            .arg(example.join("."))
            .arg(&work)
            .status()
            .is_ok_and(|s| s.success());
        copied
            && git(&["add", "-A"])
            && git(&[
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                "back to the example",
            ])
            && git(&[
                "push",
                "--quiet",
                "--force",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ])
    }

    /// Removes `branch` from the bare repository.
    pub fn delete_branch(&self, branch: &str) {
        self.git(&[
            "push",
            "--quiet",
            "origin",
            &format!(":refs/heads/{branch}"),
        ]);
    }
}

/// Appends `line` to the file at `path`.
pub fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    writeln!(file, "{line}").expect("append");
}

/// Replaces the first occurrence of `from` in the file at `path`; panics when absent.
pub fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// The revision a method's output names: the commit of its `revision: REV` line, or of
/// the last `revision: OLD -> NEW` line, as (OLD, NEW).
pub fn revision_line(output: &str) -> Option<(String, String)> {
    output
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("revision: "))
        .map(|rest| match rest.split_once(" -> ") {
            Some((old, new)) => (old.trim().to_owned(), new.trim().to_owned()),
            None => (rest.trim().to_owned(), rest.trim().to_owned()),
        })
        .next()
}
