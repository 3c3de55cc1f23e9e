//! `validate`, `update` and `--image-from` against two real Docker engines on this machine
//! (the usual one and the one scripts/second-engine starts), each running the rbldnsd
//! example as production would: a long-lived container with the service's files mounted.
//! An update rolls host by host, validates each, stops at the first failure and says what
//! happened where; an unreachable host is reported within seconds.

mod common;
mod engines;

use std::net::TcpListener;
use std::time::Duration;

use common::xml::read_report;
use common::{Devloop, LISTED, Project, require_docker};
use engines::{
    Engine, Image, RBLDNSD_IMAGE, add_zone_line, example_copy, remove_zone_entry, unique,
};
use serde_json::Value;

/// A name the example does not list, added to the zones before an update.
const NEW_SPAMMER: &str = "mx.newly-listed.example";

fn devloop_in(dir: &std::path::Path) -> Devloop {
    Devloop::new(dir)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The line of the summary table for `host`.
fn table_row<'a>(stdout: &'a str, host: &str) -> &'a str {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("HOST "))
        .find(|l| l.starts_with(&format!("{host} ")))
        .unwrap_or_else(|| panic!("no table row for {host}:\n{stdout}"))
}

#[test]
fn update_rolls_across_both_engines_one_host_at_a_time() {
    let _docker = require_docker();
    let (one, two) = (Engine::first(), Engine::second());
    let name = unique("fleet");
    let (dir1, dir2) = (example_copy(), example_copy());
    let c1 = one.run(&name, RBLDNSD_IMAGE, dir1.path(), &[]);
    let c2 = two.run(&name, RBLDNSD_IMAGE, dir2.path(), &[]);
    // The change the update rolls out: a new listing, on both hosts' files.
    let entry = format!("{NEW_SPAMMER} :127.0.0.2:Listed by the update");
    add_zone_line(dir1.path(), "bl", &entry);
    add_zone_line(dir2.path(), "bl", &entry);
    let query = format!("{NEW_SPAMMER}.senderhost.bl.rbl");
    assert_eq!(c1.dig(&query), "", "not served before the update");

    let work = tempfile::tempdir().expect("tempdir");
    let outcome = devloop_in(work.path())
        .args([
            "update", &name, "--host", &one.host, "--host", &two.host, "--batch", "1",
        ])
        .run();
    outcome.success().stdout_has("PASS update: 2 ok, 0 failed");
    for host in [&one.host, &two.host] {
        let row = table_row(&outcome.stdout, host);
        assert!(row.contains(&name), "{row}");
        assert!(
            row.split_whitespace().filter(|w| *w == "ok").count() == 2,
            "update and validate ok on {host}: {row}\n{outcome}"
        );
    }
    // The method's own output is streamed, prefixed with where it ran.
    outcome.stdout_has(&format!(
        "{} {name} | ok   test.senderhost.bl.rbl is listed",
        two.host
    ));
    // One host at a time: the second starts after the first is validated.
    let first_done = outcome
        .stderr
        .find(&format!("✓ VALIDATE in {name} on {}", one.host))
        .unwrap_or_else(|| panic!("the first host was validated\n{outcome}"));
    let second_starts = outcome
        .stderr
        .find(&format!(">>> UPDATE in {name} on {}", two.host))
        .unwrap_or_else(|| panic!("the second host was updated\n{outcome}"));
    assert!(
        first_done < second_starts,
        "batch 1 rolls host by host\n{outcome}"
    );
    // And the update took effect on both.
    assert_eq!(c1.dig(&query), "127.0.0.2");
    assert_eq!(c2.dig(&query), "127.0.0.2");
}

#[test]
fn a_failing_validate_on_the_first_host_stops_the_rollout_before_the_second() {
    let _docker = require_docker();
    let (one, two) = (Engine::first(), Engine::second());
    let name = unique("fleet");
    let (broken, good) = (example_copy(), example_copy());
    // The first host's data lacks the RFC 5782 test entry: its VALIDATE fails.
    remove_zone_entry(broken.path(), "bl", "test");
    let _c1 = one.run(&name, RBLDNSD_IMAGE, broken.path(), &[]);
    let c2 = two.run(&name, RBLDNSD_IMAGE, good.path(), &[]);
    add_zone_line(
        good.path(),
        "bl",
        &format!("{NEW_SPAMMER} :127.0.0.2:Listed"),
    );

    let work = tempfile::tempdir().expect("tempdir");
    let outcome = devloop_in(work.path())
        .args([
            "update", &name, "-H", &one.host, "-H", &two.host, "--batch", "1",
        ])
        .run();
    outcome
        .code(1)
        .stdout_has("FAIL test.senderhost.bl.rbl should be listed")
        .stdout_has("FAIL update: 0 ok, 1 failed, 1 skipped")
        .output_lacks(&format!(">>> UPDATE in {name} on {}", two.host));
    assert!(
        table_row(&outcome.stdout, &one.host).contains("failed (exit 1)"),
        "{outcome}"
    );
    let second = table_row(&outcome.stdout, &two.host);
    assert!(second.contains("skipped"), "{second}\n{outcome}");
    // The second host was not touched: it still serves the old data.
    assert_eq!(c2.dig(&format!("{NEW_SPAMMER}.senderhost.bl.rbl")), "");
}

#[test]
fn an_unreachable_host_is_reported_not_hung_on() {
    let _docker = require_docker();
    let one = Engine::first();
    let name = unique("fleet");
    let dir = example_copy();
    let _c1 = one.run(&name, RBLDNSD_IMAGE, dir.path(), &[]);
    // A port on 127.0.0.1 that nothing listens on, and a listener that never answers.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_host = format!("tcp://{}", silent.local_addr().expect("address"));
    let closed_host = format!("tcp://127.0.0.1:{closed}");
    let missing_socket = "unix:///nonexistent.sock";

    let work = tempfile::tempdir().expect("tempdir");
    let outcome = devloop_in(work.path())
        .args(["update", &name])
        .args([
            "-H",
            missing_socket,
            "-H",
            &closed_host,
            "-H",
            &silent_host,
            "-H",
            &one.host,
        ])
        .run();
    outcome
        .code(3)
        .within(Duration::from_secs(15))
        .stdout_has("INCOMPLETE update: 1 ok, 0 failed, 0 skipped, 3 unreachable hosts");
    for host in [missing_socket, closed_host.as_str(), silent_host.as_str()] {
        let row = table_row(&outcome.stdout, host);
        assert!(row.contains("unreachable:"), "{row}\n{outcome}");
    }
    assert!(table_row(&outcome.stdout, &silent_host).contains("no answer within"));
    let reachable = table_row(&outcome.stdout, &one.host);
    assert!(
        reachable.contains(&name) && reachable.contains("ok"),
        "{reachable}"
    );

    // Alone, an unreachable engine is the plain environment error.
    devloop_in(work.path())
        .args(["validate", &name, "-H", &closed_host])
        .run()
        .code(3)
        .stderr_has(&format!("cannot reach the Docker engine at {closed_host}"));
}

#[test]
fn update_all_from_the_fleet_table_targets_every_container_that_declares_update() {
    let _docker = require_docker();
    let (one, two) = (Engine::first(), Engine::second());
    let tag = unique("fleet");
    let label = format!("devloop-test.fleet={tag}");
    let (dir1, dir2) = (example_copy(), example_copy());
    let _a = one.run(&format!("{tag}-a"), RBLDNSD_IMAGE, dir1.path(), &[&label]);
    let _b = two.run(&format!("{tag}-b"), RBLDNSD_IMAGE, dir2.path(), &[&label]);
    // Labelled too, but it declares no UPDATE method: not a target.
    let _plain = one.run_sleeper(
        &format!("{tag}-plain"),
        "devloop/debian:bookworm",
        &[&label],
    );

    let project = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        project.path().join("devloop.toml"),
        format!(
            "[fleet]\nhosts = [\"{}\", \"{}\"]\nbatch = 2\nlabels = [\"{label}\"]\n",
            one.host, two.host
        ),
    )
    .expect("write devloop.toml");
    let outcome = devloop_in(project.path())
        .args(["update", "--all", "--format", "json"])
        .run();
    outcome.success();
    let events = json_lines(&outcome.stdout);
    let targets: Vec<&Value> = events.iter().filter(|e| e["event"] == "target").collect();
    let names: Vec<&str> = targets
        .iter()
        .filter_map(|t| t["container"].as_str())
        .collect();
    assert_eq!(names, [format!("{tag}-a"), format!("{tag}-b")], "{outcome}");
    for target in &targets {
        assert_eq!(target["status"], "pass", "{target}");
        assert_eq!(target["update"], "ok");
        assert_eq!(target["validate"], "ok");
    }
    let fleet = events
        .iter()
        .find(|e| e["event"] == "fleet")
        .expect("a fleet event");
    assert_eq!(fleet["ok"], 2);
    assert_eq!(fleet["batch"], 2);
    let mut methods: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "method")
        .filter_map(|e| Some((e["container"].as_str()?, e["method"].as_str()?)))
        .collect();
    methods.sort_unstable();
    let (a, b) = (format!("{tag}-a"), format!("{tag}-b"));
    assert_eq!(
        methods,
        [
            (a.as_str(), "UPDATE"),
            (a.as_str(), "VALIDATE"),
            (b.as_str(), "UPDATE"),
            (b.as_str(), "VALIDATE")
        ],
        "{outcome}"
    );
}

#[test]
fn validate_says_what_failed_what_is_missing_and_what_is_not_there() {
    let _docker = require_docker();
    let one = Engine::first();
    let tag = unique("fleet");
    let (good, broken) = (example_copy(), example_copy());
    remove_zone_entry(broken.path(), "wl", "test");
    let _good = one.run(&format!("{tag}-good"), RBLDNSD_IMAGE, good.path(), &[]);
    let _broken = one.run(&format!("{tag}-broken"), RBLDNSD_IMAGE, broken.path(), &[]);
    let _plain = one.run_sleeper(&format!("{tag}-plain"), "devloop/debian:bookworm", &[]);
    let work = tempfile::tempdir().expect("tempdir");
    let run = |container: &str| {
        devloop_in(work.path())
            .env("DOCKER_HOST", &one.host)
            .args(["validate", container])
            .run()
    };

    run(&format!("{tag}-good"))
        .success()
        .stdout_has("ok   invalid.senderhost.wl.rbl is not listed: NXDOMAIN")
        .stdout_has("PASS validate: 1 ok");
    run(&format!("{tag}-broken"))
        .code(1)
        .stdout_has("FAIL test.senderhost.wl.rbl should be listed")
        .stderr_has("✗ VALIDATE")
        .stderr_has("failed (exit 1)");
    run(&format!("{tag}-plain")).code(2).stderr_has(&format!(
        "container {tag}-plain on {} declares no VALIDATE method",
        one.host
    ));
    run(&format!("{tag}-nowhere"))
        .code(3)
        .stderr_has(&format!("no container {tag}-nowhere on {}", one.host));
}

#[test]
fn a_task_runs_exactly_the_image_a_container_runs_on_another_engine() {
    let _docker = require_docker();
    let (one, two) = (Engine::first(), Engine::second());
    let tag = unique("parity");
    // An image only the second engine has: production's, not a look-alike built here.
    let image_name = format!("devloop-test/{tag}:prod");
    let production = two.build(
        &image_name,
        &format!("FROM {RBLDNSD_IMAGE}\nLABEL devloop-test.parity=\"{tag}\"\n"),
    );
    assert_eq!(
        one.image_id(&production.id),
        None,
        "not on the first engine yet"
    );
    let copied = Image {
        engine: one.clone(),
        tags: Vec::new(),
        id: production.id.clone(),
    };
    let dir = example_copy();
    let _prod = two.run(&tag, &image_name, dir.path(), &[]);

    let project = Project::rbldnsd();
    let outcome = project
        .devloop()
        .args(["test:host", LISTED, "--format", "json"])
        .args(["--image-from", &format!("{}:{tag}", two.host)])
        .run();
    outcome.success();
    let events = json_lines(&outcome.stdout);
    let summary = events
        .iter()
        .find(|e| e["event"] == "summary")
        .expect("a summary");
    assert_eq!(summary["image_id"], production.id.as_str(), "{outcome}");
    assert_eq!(summary["passed"], 4);
    assert!(
        events.iter().any(|e| e["event"] == "note"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains(&production.id) && m.contains(&image_name))),
        "a note names the image and where it came from\n{outcome}"
    );
    assert_eq!(
        one.image_id(&production.id).as_deref(),
        Some(production.id.as_str()),
        "copied to the first engine with its ID"
    );
    project.assert_no_container_left();
    drop(copied);
}

#[test]
fn inspect_a_container_on_the_second_engine_names_its_image_and_when_it_started() {
    let _docker = require_docker();
    let two = Engine::second();
    let name = unique("fleet");
    let dir = example_copy();
    let container = two.run(&name, RBLDNSD_IMAGE, dir.path(), &[]);
    let image_id = two.image_id(RBLDNSD_IMAGE).expect("image id");
    let work = tempfile::tempdir().expect("tempdir");
    let outcome = devloop_in(work.path())
        .args(["inspect", &name, "--host", &two.host, "--format", "json"])
        .run();
    outcome.success();
    let events = json_lines(&outcome.stdout);
    let shown = &events[0];
    assert_eq!(shown["event"], "container");
    assert_eq!(shown["id"], container.id.as_str());
    assert_eq!(shown["running"], true);
    assert_eq!(shown["image"], RBLDNSD_IMAGE);
    assert_eq!(shown["image_id"], image_id.as_str());
    assert!(
        shown["started_at"]
            .as_str()
            .is_some_and(|s| s.starts_with("20")),
        "{shown}"
    );
    let methods: Vec<&str> = shown["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(methods, ["START", "UPDATE", "VALIDATE"]);
    assert_eq!(events[1]["event"], "image");
    assert_eq!(events[1]["id"], image_id.as_str());

    devloop_in(work.path())
        .args(["inspect", &name, "-H", &two.host])
        .run()
        .success()
        .stdout_has(&format!("container {name}  running since"))
        .stdout_has(&format!("image id  {image_id}"))
        .stdout_has("VALIDATE  /service/bin/validate");
}

#[test]
fn a_rollout_writes_a_junit_case_per_container_and_per_unreachable_host() {
    let _docker = require_docker();
    let (one, two) = (Engine::first(), Engine::second());
    let name = unique("fleet");
    let (dir1, dir2) = (example_copy(), example_copy());
    let _c1 = one.run(&name, RBLDNSD_IMAGE, dir1.path(), &[]);
    let _c2 = two.run(&name, RBLDNSD_IMAGE, dir2.path(), &[]);
    let missing_socket = "unix:///nonexistent.sock";
    let work = tempfile::tempdir().expect("tempdir");
    let junit = work.path().join("fleet.xml");
    let outcome = devloop_in(work.path())
        .args(["validate", &name, "-H", &one.host, "-H", &two.host])
        .args(["-H", missing_socket, "--junit"])
        .arg(junit.to_str().expect("utf-8 path"))
        .run();
    outcome.code(3);

    let report = read_report(&junit, &outcome);
    let suites = report.all("testsuite");
    assert_eq!(suites.len(), 1, "{report:?}");
    assert_eq!(suites[0].attribute("name"), "validate");
    assert_eq!(suites[0].attribute("tests"), "3", "{report:?}");
    assert_eq!(suites[0].attribute("failures"), "1", "{report:?}");
    let cases: Vec<(&str, bool)> = suites[0]
        .all("testcase")
        .iter()
        .map(|c| (c.attribute("name"), c.failed()))
        .collect();
    let (on_one, on_two) = (
        format!("{name} on {}", one.host),
        format!("{name} on {}", two.host),
    );
    assert_eq!(
        cases,
        [
            (on_one.as_str(), false),
            (on_two.as_str(), false),
            (missing_socket, true)
        ],
        "{report:?}"
    );
}
