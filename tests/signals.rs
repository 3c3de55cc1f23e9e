//! A run interrupted (SIGINT, SIGTERM) removes its container and says so by its exit
//! status; a run killed outright (SIGKILL) leaves its container to the next run or to
//! `devloop clean`.
//!
//! Each run here is stuck when the signal arrives: waiting for a readiness log line that
//! never comes, in a step that sleeps, or on an engine that never answers. The exit status
//! (130, 143) tells an interrupted run from one that finished first.

mod common;

use std::time::Duration;

use common::{LISTED, Project, WorkTree, require_docker, require_docker_alone};

/// How long the container of a stuck run may take to appear.
const START: Duration = Duration::from_secs(15);

fn interrupted_run_removes_its_container(signal: libc::c_int, status: i32, name: &str) {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.never_ready();
    let run = project.devloop().args(["test:host", LISTED]).spawn();
    project.wait_for_running_container(START);
    run.signal(signal);
    let outcome = run.wait();
    outcome.code(status).stderr_has(name);
    project.assert_no_container_left();
}

#[test]
fn sigint_while_waiting_for_the_service_removes_the_container_and_exits_130() {
    interrupted_run_removes_its_container(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_while_waiting_for_the_service_removes_the_container_and_exits_143() {
    interrupted_run_removes_its_container(libc::SIGTERM, 143, "SIGTERM");
}

#[test]
fn sigint_as_soon_as_the_container_is_created_still_removes_it() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.never_ready();
    let run = project.devloop().args(["test:host", LISTED]).spawn();
    let deadline = std::time::Instant::now() + START;
    while project.containers().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no container appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    run.signal(libc::SIGINT);
    run.wait().code(130);
    project.assert_no_container_left();
}

#[test]
fn the_service_container_is_on_loopback_only_read_only_and_unprivileged() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.never_ready();
    let run = project.devloop().args(["test:host", LISTED]).spawn();
    let name = project.wait_for_running_container(START);
    let container = project.inspect(&name);
    run.signal(libc::SIGINT);

    let host = &container["HostConfig"];
    let ports = container["NetworkSettings"]["Ports"]
        .as_object()
        .expect("published ports");
    assert!(!ports.is_empty(), "{container:#}");
    for (port, bindings) in ports {
        for binding in bindings.as_array().into_iter().flatten() {
            assert_eq!(
                binding["HostIp"], "127.0.0.1",
                "{port} is published beyond 127.0.0.1"
            );
        }
    }
    let mounts = container["Mounts"].as_array().expect("mounts");
    let work_tree = mounts
        .iter()
        .find(|m| m["Destination"] == "/service")
        .expect("the work tree is mounted on /service");
    assert_eq!(work_tree["RW"], false, "{work_tree}");
    assert_eq!(
        std::path::Path::new(work_tree["Source"].as_str().unwrap_or_default()),
        project.path().canonicalize().expect("canonical path")
    );
    assert_eq!(host["Privileged"], false);
    assert!(
        host["CapAdd"].as_array().is_none_or(Vec::is_empty),
        "{}",
        host["CapAdd"]
    );
    assert!(
        host["SecurityOpt"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o == "no-new-privileges")),
        "{}",
        host["SecurityOpt"]
    );
    run.wait().code(130);
    project.assert_no_container_left();
}

#[test]
fn sigint_during_a_check_in_the_container_removes_the_container() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let nap = format!("29.{}", std::process::id());
    project.append(
        "devloop.toml",
        &format!("\n[task.slow]\nsteps = [{{ name = \"nap\", exec = [\"sleep\", \"{nap}\"] }}]\n"),
    );
    let run = project.devloop().arg("slow").spawn();
    let name = project.wait_for_running_container(START);
    wait_for(|| {
        std::process::Command::new("docker")
            .args(["top", &name])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&nap))
    });
    run.signal(libc::SIGINT);
    run.wait().code(130).stdout_has("INTERRUPTED");
    project.assert_no_container_left();
}

#[test]
fn sigint_during_a_host_command_stops_the_command() {
    let project = Project::rbldnsd();
    let nap = format!("31.{}", std::process::id());
    project.append(
        "devloop.toml",
        &format!("\n[task.slow]\nsteps = [{{ name = \"nap\", run = [\"sleep\", \"{nap}\"] }}]\n"),
    );
    let run = project.devloop().arg("slow").spawn();
    wait_for(|| !processes_running(&nap).is_empty());
    run.signal(libc::SIGINT);
    run.wait().code(130);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !processes_running(&nap).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the host command outlived devloop: {:?}",
            processes_running(&nap)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_while_the_engine_does_not_answer_ends_the_run_at_once() {
    let project = Project::rbldnsd();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let host = format!("tcp://{}", silent.local_addr().expect("address"));
    let run = project
        .devloop()
        .env("DOCKER_HOST", &host)
        .args(["test:host", LISTED])
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    run.signal(libc::SIGINT);
    run.wait().code(130).within(Duration::from_secs(2));
}

#[test]
fn devloop_clean_spares_the_container_of_a_keep_run_that_is_still_going() {
    // Alone: `devloop clean` removes every kept container and leftover on this engine.
    let _docker = require_docker_alone();
    let project = Project::rbldnsd();
    project.never_ready();
    let run = project
        .devloop()
        .args(["--keep", "test:host", LISTED])
        .spawn();
    let name = project.wait_for_running_container(START);
    project
        .devloop()
        .arg("clean")
        .run()
        .success()
        .stdout_lacks(&name);
    assert_eq!(
        project.running_containers().len(),
        1,
        "`devloop clean` (without --all) removed the container of a run still going"
    );
    run.signal(libc::SIGINT);
    run.wait().code(130);
    project.assert_no_container_left();
}

/// Polls `ready` until it holds, for at most 15 s.
fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + START;
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The PIDs of live processes (not zombies) whose command line holds `word`.
fn processes_running(word: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie
            && String::from_utf8_lossy(&cmdline)
                .split('\0')
                .any(|a| a == word)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Starts a stuck run, kills it with SIGKILL once its container runs, and checks that the
/// container outlived it. Returns the container's name.
fn killed_run_leaves(project: &Project) -> String {
    project.never_ready();
    let run = project.devloop().args(["test:host", LISTED]).spawn();
    let name = project.wait_for_running_container(START);
    run.signal(libc::SIGKILL);
    // Reaped: a zombie would still look like a live run to the sweep.
    let outcome = run.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&outcome.status),
        Some(libc::SIGKILL),
        "{outcome}"
    );
    assert_eq!(
        project.container_names(),
        std::slice::from_ref(&name),
        "SIGKILL gives devloop no chance to clean up: the container should still be there"
    );
    name
}

#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    // Alone: any other run would sweep the leftover this test looks at.
    let _docker = require_docker_alone();
    let project = Project::rbldnsd();
    let normal = project.read("devloop.toml");
    let leftover = killed_run_leaves(&project);

    project.write("devloop.toml", &normal);
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .success()
        .output_has(&format!("removed leftover container {leftover}"));
    project.assert_no_container_left();
}

#[test]
fn devloop_clean_removes_what_a_killed_run_left() {
    let _docker = require_docker_alone();
    let project = Project::rbldnsd();
    let leftover = killed_run_leaves(&project);

    project
        .devloop()
        .arg("clean")
        .run()
        .success()
        .stdout_has(&format!("removed {leftover}"));
    project.assert_no_container_left();
}

#[test]
fn sighup_while_waiting_for_the_service_removes_the_container_and_exits_129() {
    interrupted_run_removes_its_container(libc::SIGHUP, 129, "SIGHUP");
}

#[test]
fn sigquit_while_waiting_for_the_service_removes_the_container_and_exits_131() {
    interrupted_run_removes_its_container(libc::SIGQUIT, 131, "SIGQUIT");
}

/// GNU `timeout` and terminals send a second SIGINT soon after the first: the teardown the
/// first one started must still remove the container, every time.
#[test]
fn two_sigints_30_ms_apart_never_leave_the_container() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.never_ready();
    for trial in 0..10 {
        let run = project.devloop().args(["test:host", LISTED]).spawn();
        // Half the trials strike as soon as the container exists, half once it runs.
        if trial % 2 == 0 {
            wait_for(|| !project.containers().is_empty());
        } else {
            project.wait_for_running_container(START);
        }
        run.signal(libc::SIGINT);
        std::thread::sleep(Duration::from_millis(30));
        run.signal(libc::SIGINT);
        let outcome = run.wait();
        outcome.code(130);
        let left = project.container_names();
        assert!(
            left.is_empty(),
            "trial {trial}: two SIGINTs left {left:?} behind\n{outcome}"
        );
    }
}

/// A marker no other process on the machine has in its command line: `sleep 44.<pid><n>`
/// sleeps about 44 s and is found by it.
fn marker(seconds: u32) -> String {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{seconds}.{}{n:03}", std::process::id())
}

/// Adds `[task.<name>]` with one `sh` step running `script`, with extra step keys.
fn host_task(project: &Project, name: &str, script: &str, extra: &str) {
    project.append(
        "devloop.toml",
        &format!(
            "\n[task.{name}]\nsteps = [{{ name = \"background\", sh = \"{script}\"{extra} }}]\n"
        ),
    );
}

/// Ends, by PID, whatever of the test's own `sleep` processes a failed test left.
struct Strays(Vec<String>);

impl Drop for Strays {
    fn drop(&mut self) {
        for marker in &self.0 {
            for pid in processes_running(marker) {
                if let Ok(pid) = libc::pid_t::try_from(pid) {
                    // SAFETY: kill(2) on a process this test started (found by its marker).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

fn assert_no_process(marker: &str, when: &str) {
    let left = processes_running(marker);
    assert!(
        left.is_empty(),
        "{when}: `sleep {marker}` (pids {left:?}) outlived devloop"
    );
}

#[test]
fn sigterm_during_a_host_step_ends_what_the_step_started_in_the_background() {
    let project = Project::rbldnsd();
    let (background, foreground) = (marker(44), marker(45));
    let _strays = Strays(vec![background.clone(), foreground.clone()]);
    host_task(
        &project,
        "bg",
        &format!("sleep {background} & sleep {foreground}"),
        "",
    );
    let run = project.devloop().arg("bg").spawn();
    wait_for(|| !processes_running(&background).is_empty());
    run.signal(libc::SIGTERM);
    run.wait().code(143);
    assert_no_process(&background, "after SIGTERM");
    assert_no_process(&foreground, "after SIGTERM");
}

#[test]
fn a_host_step_that_times_out_ends_with_everything_it_started() {
    let project = Project::rbldnsd();
    let (background, foreground) = (marker(44), marker(45));
    let _strays = Strays(vec![background.clone(), foreground.clone()]);
    host_task(
        &project,
        "bg",
        &format!("sleep {background} & sleep {foreground}"),
        ", timeout = \"1s\"",
    );
    let outcome = project.devloop().arg("bg").run();
    outcome.code(1).within(Duration::from_secs(8));
    assert!(
        outcome
            .failed("background")
            .contains("did not finish within 1s"),
        "{outcome}"
    );
    assert_no_process(&background, "after the step's timeout");
    assert_no_process(&foreground, "after the step's timeout");
}

/// `sh` is done when it exits, even when a child it put in the background still holds its
/// output open; that child ends with the step.
#[test]
fn a_host_step_ends_when_sh_exits_although_a_background_child_holds_its_output() {
    let project = Project::rbldnsd();
    let background = marker(44);
    let _strays = Strays(vec![background.clone()]);
    host_task(
        &project,
        "bg",
        &format!("sleep {background} & echo started"),
        ", timeout = \"20s\", match = \"started\"",
    );
    let outcome = project.devloop().arg("bg").run();
    outcome.success().within(Duration::from_secs(5));
    outcome.passed("background");
    assert_no_process(&background, "after the step");
}
