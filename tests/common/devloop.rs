//! devloop run as a user runs it: the [`Devloop`] command line builder, a process under
//! way ([`Running`]), a pseudo-terminal for interactive runs, and the readers that
//! collect its output, under a deadline that turns a hang into a failure.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::outcome::Outcome;

/// How long any one devloop run may take before the test calls it a hang.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// The devloop binary cargo built for these tests.
pub fn devloop_bin() -> &'static str {
    env!("CARGO_BIN_EXE_devloop")
}

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
    #[track_caller]
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
        let mut child = match self.command.spawn() {
            Ok(child) => child,
            Err(e) => panic!("cannot start {}: {e}", devloop_bin()),
        };
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
    #[track_caller]
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }

    /// Runs devloop with a pseudo-terminal as its standard input, output and error, as in
    /// an interactive shell, typing `input` into it.
    #[track_caller]
    pub fn run_on_terminal(mut self, input: &str) -> Outcome {
        let (master, slave) = open_pty();
        let stdio = || Stdio::from(slave.try_clone().expect("dup the terminal"));
        self.command.stdin(stdio()).stdout(stdio()).stderr(stdio());
        let started = Instant::now();
        let mut child = match self.command.spawn() {
            Ok(child) => child,
            Err(e) => panic!("cannot start {}: {e}", devloop_bin()),
        };
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

#[track_caller]
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
    #[track_caller]
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
    #[track_caller]
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for devloop")
    }

    /// Waits for devloop to end (and reaps it, so its PID is really gone).
    #[track_caller]
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
