//! What devloop says and does when the engine fails it: a pull that cannot reach its
//! registry, an engine that goes away in the middle of a run, and one that freezes.
//!
//! The frozen engine is the suite's own third engine (scripts/third-engine), held alone
//! for the test and always resumed, whatever the test's outcome. The usual engine is never
//! frozen: "going away" is played by a proxy in front of it that cuts every connection.

mod common;
mod engines;

use std::time::{Duration, Instant};

use common::{LISTED, Project, WorkTree, require_docker};
use engines::{Engine, EngineProxy};

/// A `sleep` argument no other process on the machine has: found with `docker top`.
fn nap(seconds: u32) -> String {
    format!("{seconds}.{}", std::process::id())
}

/// Adds `[task.slow]`: one exec step that sleeps `nap` seconds, with `timeout`.
fn slow_exec_task(project: &Project, nap: &str, timeout: &str) {
    project.append(
        "devloop.toml",
        &format!(
            "\n[task.slow]\nsteps = [{{ name = \"nap\", exec = [\"sleep\", \"{nap}\"], timeout = \"{timeout}\" }}]\n"
        ),
    );
}

/// Waits until the container `name` on `engine` runs `sleep nap`.
fn wait_for_nap(engine: &Engine, name: &str, nap: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !engine
        .docker_out(&["top", name])
        .is_some_and(|top| top.contains(nap))
    {
        assert!(
            Instant::now() < deadline,
            "`sleep {nap}` never ran in {name}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `project` has a running container on `engine`; its name.
fn wait_for_container(engine: &Engine, project: &Project) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(name) = engine.project_containers(project.name()).first() {
            return name.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no container of {} appeared",
            project.name()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_pull_that_fails_says_so_once() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.replace_line(
        "devloop.toml",
        "image = ",
        "image = \"127.0.0.1:1/devloop-test/absent:latest\"",
    );
    project.replace_line("devloop.toml", "pull  = ", "pull = \"always\"");
    let outcome = project.devloop().args(["test:host", LISTED]).run();
    outcome
        .code(3)
        .stderr_has("image 127.0.0.1:1/devloop-test/absent:latest is not available: pull failed: ");
    assert_eq!(
        outcome.stderr.matches("pull failed").count(),
        1,
        "{outcome}"
    );
    project.assert_no_container_created();
}

#[test]
fn an_engine_that_goes_away_during_an_exec_is_named_and_its_container_reported() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let nap = nap(61);
    slow_exec_task(&project, &nap, "30s");
    let mut proxy = EngineProxy::start();
    let run = project
        .devloop()
        .env("DOCKER_HOST", &proxy.host())
        .arg("slow")
        .spawn();
    let name = project.wait_for_running_container(Duration::from_secs(20));
    wait_for_nap(&Engine::first(), &name, &nap);
    proxy.kill();
    let outcome = run.wait();
    outcome
        .code(3)
        .within(Duration::from_secs(20))
        .output_lacks("hyper")
        .stderr_has(&format!("the Docker engine at {} went away", proxy.host()))
        .stderr_has(&format!(
            "error: container {name} on {} could not be removed",
            proxy.host()
        ))
        .stderr_has("the next devloop run on that engine removes it");
    let detail = outcome.failed("nap");
    assert!(
        detail.contains("the exec could not be completed")
            && detail.contains(&format!(
                "went away (reading the exit status of exec `sleep {nap}`"
            )),
        "{outcome}"
    );
    assert!(!detail.contains("exit status -1"), "{outcome}");
    assert!(
        outcome
            .failed("service log")
            .contains("the service's log could not be read"),
        "{outcome}"
    );
    // The project's guard removes the container devloop could not reach.
}

/// A dockerd stopped with SIGSTOP answers nothing: not the exec in progress, not the
/// removal. devloop ends at the step's timeout plus a few seconds, exit 3, names the call
/// that got no answer and the container it could not remove; once the engine is back, the
/// next run removes that container.
#[test]
fn a_frozen_engine_costs_the_step_timeout_and_a_few_seconds_and_its_leftover_is_swept() {
    let _docker = require_docker();
    let engine = Engine::third();
    let _alone = engine.lease();
    let project = Project::rbldnsd();
    let normal = project.read("devloop.toml");
    let nap = nap(62);
    slow_exec_task(&project, &nap, "3s");
    let cleanup = Cleanup {
        engine: &engine,
        project: project.name(),
    };
    let run = project
        .devloop()
        .env("DOCKER_HOST", &engine.host)
        .arg("slow")
        .spawn();
    let name = wait_for_container(&engine, &project);
    wait_for_nap(&engine, &name, &nap);
    let frozen = engine.freeze();
    let frozen_at = Instant::now();
    let outcome = run.wait();
    let took = frozen_at.elapsed();
    frozen.resume();

    outcome
        .code(3)
        .stderr_has(&format!(
            "the Docker engine at {} did not answer",
            engine.host
        ))
        .stderr_has(&format!("exec `sleep {nap}` in {name}"))
        .stderr_has(&format!(
            "error: container {name} on {} could not be removed",
            engine.host
        ));
    assert!(
        took < Duration::from_secs(3 + 6),
        "devloop took {took:?} after the engine froze\n{outcome}"
    );
    assert!(
        outcome
            .failed("nap")
            .contains("the exec could not be completed"),
        "{outcome}"
    );
    assert!(
        outcome
            .failed("service log")
            .contains("the service's log could not be read"),
        "{outcome}"
    );
    assert_eq!(
        engine.project_containers(project.name()),
        std::slice::from_ref(&name),
        "the frozen engine could not remove the container"
    );

    project.write("devloop.toml", &normal);
    project
        .devloop()
        .env("DOCKER_HOST", &engine.host)
        .args(["test:host", LISTED])
        .run()
        .success()
        .output_has(&format!("removed leftover container {name}"));
    assert_eq!(
        engine.project_containers(project.name()),
        Vec::<String>::new()
    );
    drop(cleanup);
}

/// Removes what the project left on the third engine, whatever the test's outcome (the
/// usual engine's leftovers go with the project).
struct Cleanup<'a> {
    engine: &'a Engine,
    project: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.engine.remove_project_containers(self.project);
    }
}
