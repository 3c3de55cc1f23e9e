//! The rbldnsd example against the real Docker engine and the real image: what an operator
//! sees when a host is listed, unlisted or whitelisted, the machine-readable reports, a
//! zone the daemon rejects, a container that tries to write to the work tree, `--keep`.

mod common;

use common::xml::parse_xml;
use common::{LISTED, Project, WorkTree, require_docker, require_docker_alone};
use serde_json::Value;

#[test]
fn a_listed_host_passes_the_three_checks() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .success()
        .passed("black list")
        .passed("reason")
        .passed("white list")
        .stdout_has("PASS test:host");
    project.assert_no_container_left();
}

#[test]
fn an_unlisted_host_fails_on_the_black_list_saying_what_was_asked_and_what_came_back() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let outcome = project
        .devloop()
        .args(["test:host", "clean.example.org"])
        .run();
    outcome
        .code(1)
        .passed("white list")
        .stdout_has("FAIL test:host");
    let report = outcome.failed("black list");
    assert!(
        report.contains("clean.example.org.senderhost.bl.rbl"),
        "the failure should say what was asked:\n{report}"
    );
    assert!(
        report.contains("got:   NXDOMAIN"),
        "the failure should say what came back:\n{report}"
    );
    assert!(
        report.contains("container log (last lines):"),
        "the failure should show the container's log:\n{report}"
    );
    project.assert_no_container_left();
}

#[test]
fn a_whitelisted_host_fails_on_the_white_list() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let outcome = project
        .devloop()
        .args(["test:host", "goodguy.mailingliststart.com"])
        .run();
    outcome.code(1).passed("black list").passed("reason");
    let report = outcome.failed("white list");
    assert!(
        report.contains("goodguy.mailingliststart.com.senderhost.wl.rbl")
            && report.contains("127.0.0.2"),
        "the failure should show the white list's answer:\n{report}"
    );
    project.assert_no_container_left();
}

#[test]
fn the_test_task_passes() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .arg("test")
        .run()
        .success()
        .passed("the image's VALIDATE method passes")
        .stdout_has("PASS test:")
        .stdout_lacks("✗");
    project.assert_no_container_left();
}

#[test]
fn json_lines_and_the_junit_file_report_the_same_checks() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let reports = tempfile::tempdir().expect("tempdir");
    let junit = reports.path().join("out.xml");
    let outcome = project
        .devloop()
        .args(["--format", "json", "--junit"])
        .arg(junit.to_str().expect("utf-8 path"))
        .args(["test:host", "clean.example.org"])
        .run();
    outcome.code(1);

    let events: Vec<Value> = outcome
        .stdout
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{outcome}"));
            assert!(
                event.get("event").is_some_and(Value::is_string),
                "a JSON line without an \"event\": {line}"
            );
            event
        })
        .collect();
    let checks: Vec<&Value> = events.iter().filter(|e| e["event"] == "check").collect();
    assert!(checks.len() >= 3, "three checks at least\n{outcome}");
    for check in &checks {
        assert_eq!(check["task"], "test:host", "{check}");
        assert!(check["name"].is_string(), "{check}");
        assert!(
            check["status"] == "pass" || check["status"] == "fail",
            "{check}"
        );
        assert!(check["duration_ms"].is_u64(), "{check}");
        assert!(check["detail"].is_string(), "{check}");
    }
    let status_of = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no check event named {name}\n{outcome}"))
    };
    assert_eq!(status_of("black list"), "fail");
    assert_eq!(status_of("white list"), "pass");
    let failed = checks.iter().filter(|c| c["status"] == "fail").count();
    let passed = checks.len() - failed;

    let summaries: Vec<&Value> = events.iter().filter(|e| e["event"] == "summary").collect();
    assert_eq!(summaries.len(), 1, "one summary\n{outcome}");
    let summary = summaries[0];
    assert_eq!(summary["task"], "test:host");
    assert_eq!(summary["passed"], passed, "{summary}");
    assert_eq!(summary["failed"], failed, "{summary}");
    assert!(summary["duration_ms"].is_u64(), "{summary}");
    assert_eq!(summary["image"], common::RBLDNSD_IMAGE);
    assert!(
        summary["image_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "{summary}"
    );

    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"));
    let suites: Vec<_> = root
        .descendants()
        .into_iter()
        .filter(|e| e.name == "testsuite")
        .collect();
    assert_eq!(suites.len(), 1, "one testsuite\n{xml}");
    let suite = suites[0];
    let cases: Vec<_> = suite
        .children
        .iter()
        .filter(|e| e.name == "testcase")
        .collect();
    let failures = cases
        .iter()
        .filter(|c| c.children.iter().any(|f| f.name == "failure"))
        .count();
    assert_eq!(suite.attribute("tests"), checks.len().to_string(), "{xml}");
    assert_eq!(suite.attribute("failures"), failed.to_string(), "{xml}");
    assert_eq!(cases.len(), checks.len(), "{xml}");
    assert_eq!(failures, failed, "{xml}");
    project.assert_no_container_left();
}

#[test]
fn a_zone_line_rbldnsd_rejects_fails_the_run_and_shows_the_daemons_complaint() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.append("zones/bl", "bad.example :127.0.0.300:broken\n");
    let line = project.line_of("zones/bl", "bad.example ");
    let outcome = project.devloop().args(["test:host", LISTED]).run();
    outcome
        .code(1)
        .output_has(&format!("file bl({line}): invalid A RR"))
        .stdout_has("FAIL test:host");
    project.assert_no_container_left();
}

#[test]
fn the_work_tree_is_unchanged_even_when_the_container_tries_to_write_to_it() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.append(
        "devloop.toml",
        r#"
[task.tamper]
description = "Try to change the mounted work tree from inside the container"
steps = [
  { name = "write to the mount", exec = ["sh", "-c", "echo hacked > /service/zones/bl; echo new > /service/new; chmod 777 /service/zones/wl; rm -f /service/zones/wl; touch /service/bin/start"] },
  { name = "on the host", run = ["ls", "zones"] },
]
"#,
    );
    let before = project.snapshot();
    let outcome = project.devloop().arg("tamper").run();
    outcome.code(1).passed("on the host");
    let report = outcome.failed("write to the mount");
    assert!(
        report.contains("Read-only file system"),
        "the write should fail on a read-only mount:\n{report}"
    );
    let after = project.snapshot();
    for (path, was) in &before {
        match after.get(path) {
            None => panic!("{} was removed", path.display()),
            Some(now) if now != was => panic!(
                "{} changed: mode {:o} -> {:o}, mtime {} -> {}, contents {:?} -> {:?}",
                path.display(),
                was.0,
                now.0,
                was.1,
                now.1,
                String::from_utf8_lossy(&was.2),
                String::from_utf8_lossy(&now.2)
            ),
            Some(_) => {}
        }
    }
    let added: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(added.is_empty(), "files appeared: {added:?}");
    project.assert_no_container_left();
}

#[test]
fn keep_leaves_a_failed_runs_container_up_and_clean_removes_it() {
    // Alone: `devloop clean` removes every kept container and leftover on this engine.
    let _docker = require_docker_alone();
    let project = Project::rbldnsd();
    let outcome = project
        .devloop()
        .args(["test:host", "clean.example.org", "--keep"])
        .run();
    outcome.code(1);
    let names = project.container_names();
    assert_eq!(names.len(), 1, "one kept container\n{outcome}");
    let name = &names[0];
    assert_eq!(
        project.running_containers().len(),
        1,
        "the kept container runs"
    );
    outcome.output_has(&format!("docker exec -it {name} sh"));

    project
        .devloop()
        .arg("clean")
        .run()
        .success()
        .stdout_has(&format!("removed {name}"));
    project.assert_no_container_left();
}

#[test]
fn keep_leaves_nothing_when_the_run_passes() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .args(["--keep", "test:host", LISTED])
        .run()
        .success()
        .output_lacks("docker exec -it");
    project.assert_no_container_left();
}

#[test]
fn a_daemon_that_dies_at_start_is_an_environment_error_with_its_log() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    std::fs::remove_file(project.file("zones/wl")).expect("remove zones/wl");
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .code(3)
        .within(std::time::Duration::from_secs(10))
        .stderr_has("exited with status")
        .stderr_has("file wl: unable to open file");
    project.assert_no_container_left();
}

#[test]
fn a_work_tree_whose_path_holds_a_colon_is_tested_like_any_other() {
    let _docker = require_docker();
    let project = Project::rbldnsd_at("ops:dns/rbldnsd");
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .success()
        .passed("black list");
    project.assert_no_container_left();
}
