//! A run interrupted (SIGINT, SIGTERM) removes its container and says so by its exit
//! status; a run killed outright (SIGKILL) leaves its container to the next run or to
//! `devloop clean`.
//!
//! Each run here waits for a readiness log line that never comes, so it is certainly
//! still under way when the signal arrives; the exit status (130, 143) tells an
//! interrupted run from one that finished first.

mod common;

use std::time::Duration;

use common::{LISTED, Project, require_docker, require_docker_alone};

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
        assert!(std::time::Instant::now() < deadline, "no container appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    run.signal(libc::SIGINT);
    run.wait().code(130);
    project.assert_no_container_left();
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
        [name.clone()],
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
