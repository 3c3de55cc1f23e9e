//! The Docker engine as the tests see it: whether it answers and has the example images,
//! the leases that let tests share it (or have it alone), the docker client, names unique
//! to a test, and the engine's event log.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The image the rbldnsd example runs; `scripts/images` builds it.
pub const RBLDNSD_IMAGE: &str = "devloop-example/rbldnsd:latest";

/// The image the BIND example runs; `scripts/images` builds it.
pub const BIND_IMAGE: &str = "devloop-example/bind:latest";

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
#[track_caller]
pub fn require_docker() -> DockerLease {
    require_images(&[RBLDNSD_IMAGE])
}

/// Like [`require_docker`], but no other Docker test runs meanwhile.
#[track_caller]
pub fn require_docker_alone() -> DockerLease {
    engine_ready();
    assert_image(RBLDNSD_IMAGE);
    DockerLease {
        _lock: lock(libc::LOCK_EX),
    }
}

/// Like [`require_docker`], and fails the test (never skips it) when `image` is missing.
#[track_caller]
pub fn require_docker_with(image: &str) -> DockerLease {
    require_images(&[RBLDNSD_IMAGE, image])
}

/// Fails the test, never skips it, when no Docker engine answers or one of `images` is
/// missing; then takes a shared lease on the engine.
#[track_caller]
pub fn require_images(images: &[&str]) -> DockerLease {
    engine_ready();
    for image in images {
        assert_image(image);
    }
    DockerLease {
        _lock: lock(libc::LOCK_SH),
    }
}

#[track_caller]
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

#[track_caller]
fn assert_image(image: &str) {
    assert!(
        docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_some(),
        "the image {image} is missing: run scripts/images"
    );
}

/// A `flock` (`LOCK_SH` or `LOCK_EX`) on the suite's lock file, shared by every harness.
#[track_caller]
pub fn lock(mode: libc::c_int) -> File {
    flock(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-tests.lock"),
        mode,
    )
}

/// A `flock` (`LOCK_SH` or `LOCK_EX`) on the file at `path`, made if missing; held until
/// the file is dropped.
#[track_caller]
pub fn flock(path: &Path, mode: libc::c_int) -> File {
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) => panic!("cannot open {}: {e}", path.display()),
    };
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

/// The non-empty lines of the docker client's output (IDs, names), trimmed.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
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
#[track_caller]
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
