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

// ---------------------------------------------------------------------------------------
// Steps that did not run are reported, and counted per task

/// What `--format json --junit FILE` reported of one run.
struct Reported {
    outcome: common::Outcome,
    checks: Vec<Value>,
    summary: Value,
    /// Each `<testsuite>`: its name, attributes and the names of its cases.
    suites: Vec<(
        String,
        std::collections::BTreeMap<String, String>,
        Vec<String>,
    )>,
}

fn reported(project: &Project, args: &[&str]) -> Reported {
    let reports = tempfile::tempdir().expect("tempdir");
    let junit = reports.path().join("out.xml");
    let outcome = project
        .devloop()
        .args(["--format", "json", "--junit"])
        .arg(junit.to_str().expect("utf-8 path"))
        .args(args)
        .run();
    let events: Vec<Value> = outcome
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{outcome}")))
        .collect();
    let checks = events
        .iter()
        .filter(|e| e["event"] == "check")
        .cloned()
        .collect();
    let summary = events
        .iter()
        .find(|e| e["event"] == "summary")
        .cloned()
        .unwrap_or_else(|| panic!("no summary\n{outcome}"));
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"));
    let suites = root
        .children
        .iter()
        .filter(|e| e.name == "testsuite")
        .map(|suite| {
            let cases = suite
                .children
                .iter()
                .filter(|c| c.name == "testcase")
                .map(|c| c.attribute("name").to_owned())
                .collect();
            (
                suite.attribute("name").to_owned(),
                suite.attributes.clone(),
                cases,
            )
        })
        .collect();
    Reported {
        outcome,
        checks,
        summary,
        suites,
    }
}

impl Reported {
    /// (task, name) of every check event, in order.
    fn steps(&self) -> Vec<(String, String)> {
        self.checks
            .iter()
            .map(|c| (c["task"].to_string(), c["name"].to_string()))
            .collect()
    }

    fn check(&self, name: &str) -> &Value {
        self.checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name:?}\n{}", self.outcome))
    }

    /// JUnit's suites as (name, tests, failures, skipped, case names).
    fn junit(&self) -> Vec<(String, String, String, String, Vec<String>)> {
        self.suites
            .iter()
            .map(|(name, attributes, cases)| {
                (
                    name.clone(),
                    attributes["tests"].clone(),
                    attributes["failures"].clone(),
                    attributes["skipped"].clone(),
                    cases.clone(),
                )
            })
            .collect()
    }
}

/// Takes sh8.mailingliststart.com off the black list: test:lists fails on it.
fn unlist_mailingliststart(project: &Project) {
    project.replace(
        "zones/bl",
        ".mailingliststart.com :127.0.0.2:Excessive spam from this host\n",
        "",
    );
}

const VALIDATE: &str = "the image's VALIDATE method passes";

#[test]
fn a_failed_prerequisite_reports_the_tasks_steps_as_skipped_and_counts_each_task() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let pass = reported(&project, &["test"]);
    pass.outcome.success();
    unlist_mailingliststart(&project);
    let fail = reported(&project, &["test"]);
    fail.outcome.code(1);

    assert_eq!(
        fail.steps(),
        pass.steps(),
        "a failing run reports every step a passing one does\n{}",
        fail.outcome
    );
    let validate = fail.check(VALIDATE);
    assert_eq!(
        (validate["status"].as_str(), validate["task"].as_str()),
        (Some("skip"), Some("test")),
        "{validate}"
    );
    assert_eq!(
        validate["detail"],
        "prerequisite test:lists failed at `sh8.mailingliststart.com is blacklisted`"
    );

    let per_task = |summary: &Value| -> Vec<(String, u64, u64, u64)> {
        summary["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("no per-task counts: {summary}"))
            .iter()
            .map(|t| {
                let n = |f: &str| t[f].as_u64().unwrap_or_else(|| panic!("{t}"));
                (
                    t["task"].to_string(),
                    n("passed"),
                    n("failed"),
                    n("skipped"),
                )
            })
            .collect()
    };
    let lists = pass
        .checks
        .iter()
        .filter(|c| c["task"] == "test:lists")
        .count() as u64;
    let failed_lists = fail
        .checks
        .iter()
        .filter(|c| c["task"] == "test:lists" && c["status"] == "fail")
        .count() as u64;
    assert!(failed_lists > 0, "{}", fail.outcome);
    assert_eq!(
        per_task(&pass.summary),
        [
            ("\"test:lists\"".to_owned(), lists, 0, 0),
            ("\"test\"".to_owned(), 2, 0, 0)
        ],
        "{}",
        pass.summary
    );
    // The prerequisite's failures are its own; the task's VALIDATE did not run, and its
    // service-log check still judged the log.
    assert_eq!(
        per_task(&fail.summary),
        [
            (
                "\"test:lists\"".to_owned(),
                lists - failed_lists,
                failed_lists,
                0
            ),
            ("\"test\"".to_owned(), 1, 0, 1)
        ],
        "{}",
        fail.summary
    );
    assert_eq!(
        (
            fail.summary["passed"].as_u64(),
            fail.summary["failed"].as_u64(),
            fail.summary["skipped"].as_u64()
        ),
        (Some(lists - failed_lists + 1), Some(failed_lists), Some(1)),
        "{}",
        fail.summary
    );

    // JUnit: one suite per task, the same cases as a pass, VALIDATE skipped.
    let suites = fail.junit();
    let pass_suites = pass.junit();
    assert_eq!(suites.len(), 2, "{suites:?}");
    for (failing, passing) in suites.iter().zip(&pass_suites) {
        assert_eq!(
            (&failing.0, &failing.1, &failing.4),
            (&passing.0, &passing.1, &passing.4),
            "a suite of the failing run has the cases of the passing one"
        );
    }
    assert_eq!(
        (&suites[0].0[..], &suites[0].2[..], &suites[0].3[..]),
        ("test:lists", &failed_lists.to_string()[..], "0")
    );
    assert_eq!(
        (&suites[1].0[..], &suites[1].2[..], &suites[1].3[..]),
        ("test", "0", "1")
    );
    project.assert_no_container_left();
}

#[test]
fn fail_fast_reports_the_rest_as_skipped_in_dimmed_lines() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    unlist_mailingliststart(&project);
    let outcome = project.devloop().args(["--fail-fast", "test:lists"]).run();
    outcome.code(1);
    outcome.failed("sh8.mailingliststart.com is blacklisted");
    let reason = "(skipped: --fail-fast: `sh8.mailingliststart.com is blacklisted` failed)";
    for step in [
        "its reason is given",
        "a clean host is not blacklisted",
        "wl RFC 5782: invalid not listed",
    ] {
        outcome.stdout_has(&format!("○ {step} {reason}"));
    }
    // The service ran, so its log is still judged.
    outcome
        .passed("service log")
        .stdout_has("FAIL test:lists: 1 passed, 1 failed, 11 skipped in ");
    project.assert_no_container_left();
}

#[test]
fn a_run_that_cannot_start_its_service_reports_every_step_as_skipped() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.replace_line(
        "devloop.toml",
        "image = ",
        "image = \"127.0.0.1:1/devloop-test/no-such-image:never\"",
    );
    project.replace_line("devloop.toml", "pull  = ", "pull = \"never\"");
    let run = reported(&project, &["test:host", LISTED]);
    run.outcome.code(3);
    let statuses: Vec<&str> = run
        .checks
        .iter()
        .map(|c| c["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
        ["skip", "skip", "skip", "skip"],
        "three steps and the service log\n{}",
        run.outcome
    );
    assert!(
        run.checks[0]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("the run stopped: ")),
        "{}",
        run.checks[0]
    );
    assert_eq!(run.summary["skipped"], 4, "{}", run.summary);
    let suites = run.junit();
    assert_eq!(suites.len(), 1, "{suites:?}");
    assert_eq!(
        (&suites[0].1[..], &suites[0].3[..]),
        ("5", "4"),
        "four skipped steps and the run's error\n{suites:?}"
    );
    project.assert_no_container_created();
}
