//! The BIND example against the real Docker engine and the real image: zones are data
//! (`zones.yaml`), `devloop construct` renders them into `conf/`, and `devloop test`
//! checks the rendered configuration and the zone files with named's own tools, then
//! queries named over UDP and TCP. A broken template, scope file or zone file fails
//! with a message that names the file and the line.
//!
//! Every copy keeps the example's `DEVLOOP_ISOLATE=1`: named sends nothing to the masters
//! of its slave zones (`Project::bind` makes sure).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{BIND_IMAGE, Outcome, Project, WorkTree, require_docker_with};
use serde_json::Value;

/// A `devloop test` of the example takes about 1.5 s on a warm image; a run that has not
/// ended by then hangs on something (an unreachable master, say).
const TEST_RUN: Duration = Duration::from_secs(20);

/// The slave zone the issue adds through `zones.yaml`: its master is a documentation
/// address that is never reached.
const BAR_COM: &str = "
  - name: bar.com
    type: slave
    owner: Bob
    masters:
      - \"192.0.2.53\"
";

/// What `templates/slave_zones.j2` renders for bar.com: a blank line, a comment and a
/// five-line zone statement.
const BAR_COM_STATEMENT: &str = "
// bar.com: owner Bob
zone \"bar.com\" {
    type slave;
    masters { 192.0.2.53; };
    file \"/var/cache/bind/bar.com.slave\";
};
";

fn add_bar_com(project: &Project) {
    project.append("zones.yaml", BAR_COM);
}

/// The paths of the project's files and folders.
fn paths(project: &Project) -> BTreeSet<PathBuf> {
    project.snapshot().into_keys().collect()
}

/// The JSON Lines of a `--format json` run.
fn events(outcome: &Outcome) -> Vec<Value> {
    outcome
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{outcome}")))
        .collect()
}

#[test]
fn a_slave_domain_added_to_zones_yaml_is_constructed_then_tested_end_to_end() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    project
        .devloop()
        .args(["construct", "--check"])
        .run()
        .success()
        .stdout_has("everything is up to date");

    add_bar_com(&project);
    let before = project.snapshot();
    project
        .devloop()
        .args(["construct", "--check"])
        .run()
        .code(1)
        .stdout_has(" conf/named_slave_zones | 7 +++++++\n")
        .stdout_has("out of date: conf/named_slave_zones");
    assert!(
        project.snapshot() == before,
        "construct --check must write nothing"
    );
    let diff = project
        .devloop()
        .args(["construct", "--diff", "--dry-run"])
        .run();
    diff.success()
        .stdout_has("--- a/conf/named_slave_zones\n+++ b/conf/named_slave_zones\n")
        .stdout_has("+zone \"bar.com\" {\n");
    let added: String = diff
        .stdout
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| format!("{}\n", &l[1..]))
        .collect();
    assert_eq!(added, BAR_COM_STATEMENT, "{diff}");
    assert!(
        project.snapshot() == before,
        "construct --dry-run must write nothing"
    );

    let meta = |relative: &str| std::fs::metadata(project.file(relative)).expect("metadata");
    let (slave_inode, master) = (
        meta("conf/named_slave_zones").ino(),
        meta("conf/named_master_zones"),
    );
    let files_before = paths(&project);
    project
        .devloop()
        .arg("construct")
        .run()
        .success()
        .stdout_has("Rendering conf/named_master_zones ... using templates/master_zones.j2\n")
        .stdout_has("Rendering conf/named_slave_zones ... using templates/slave_zones.j2\n")
        .stdout_has(" conf/named_slave_zones | 7 +++++++\n")
        .stdout_has(" 1 file changed, 7 insertions(+), 0 deletions(-)\n");
    assert!(
        project
            .read("conf/named_slave_zones")
            .ends_with(BAR_COM_STATEMENT),
        "{}",
        project.read("conf/named_slave_zones")
    );
    // Atomic: a new file renamed over the old one (a new inode), no temporary file left,
    // and the output that did not change is left alone.
    assert_ne!(meta("conf/named_slave_zones").ino(), slave_inode);
    assert_eq!(paths(&project), files_before, "construct left files behind");
    let master_after = meta("conf/named_master_zones");
    assert_eq!(
        (
            master_after.ino(),
            master_after.mtime(),
            master_after.mtime_nsec()
        ),
        (master.ino(), master.mtime(), master.mtime_nsec()),
        "an output that did not change must not be rewritten"
    );
    project
        .devloop()
        .args(["construct", "--diff"])
        .run()
        .success()
        .stdout_has("everything is up to date")
        .stdout_lacks("+zone");
    project
        .devloop()
        .args(["construct", "--check"])
        .run()
        .success();

    // named knows bar.com now: a slave zone whose master never answers is SERVFAIL (a
    // zone named does not serve would be REFUSED), and the run neither hangs nor fails.
    project.replace(
        "devloop.toml",
        "  { name = \"no such name\"",
        "  { name = \"bar.com is a slave zone\", dns = \"bar.com\", type = \"SOA\", port = \"5300/udp\", rcode = \"SERVFAIL\" },\n  { name = \"no such name\"",
    );
    project
        .devloop()
        .arg("test")
        .run()
        .success()
        .within(TEST_RUN)
        .passed("construct --check")
        .passed("named-checkconf, slave mode (conf/named_slave_zones alone)")
        .passed("named-checkconf -z, master mode (named.conf with every master zone loaded)")
        .passed("named-checkzone example.com")
        .passed("named-checkzone example.net")
        .passed("bar.com is a slave zone")
        .passed("the image's VALIDATE method passes")
        .stdout_has("PASS test");
    project.assert_no_container_left();
}

#[test]
fn named_is_queried_over_udp_and_over_tcp() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    let outcome = project.devloop().args(["test", "--format", "json"]).run();
    outcome.success().within(TEST_RUN);
    let events = events(&outcome);
    let ports = &events
        .iter()
        .find(|e| e["event"] == "ready")
        .unwrap_or_else(|| panic!("no ready event\n{outcome}"))["ports"];
    let (udp, tcp) = (&ports["5300/udp"], &ports["5300/tcp"]);
    assert!(
        udp.is_u64() && tcp.is_u64(),
        "both ports published: {ports}"
    );
    let check = |name: &str| -> &Value {
        events
            .iter()
            .find(|e| e["event"] == "check" && e["name"] == name)
            .unwrap_or_else(|| panic!("no check {name:?}\n{outcome}"))
    };
    let mut by_hand = Vec::new();
    for zone in [
        "example.com",
        "example.net",
        "2.0.192.in-addr.arpa",
        "8.b.d.0.1.0.0.2.ip6.arpa",
    ] {
        let soa = check(&format!("{zone} SOA over UDP"));
        assert_eq!(soa["status"], "pass", "{soa}");
        let command = soa["command"].as_str().unwrap_or_default();
        assert!(
            command.contains(&format!("-p {udp} ")) && !command.contains("+tcp"),
            "{soa}"
        );
        let ns = check(&format!("{zone} NS over TCP"));
        assert_eq!(ns["status"], "pass", "{ns}");
        by_hand.push(ns["command"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(check("www.example.com A")["status"], "pass");
    let aaaa = check("www.example.com AAAA over TCP");
    assert_eq!(aaaa["status"], "pass", "{aaaa}");
    by_hand.push(aaaa["command"].as_str().unwrap_or_default().to_owned());
    // A check named "over TCP" asks over TCP, on the port published for 5300/tcp, and its
    // `dig` line says so.
    for command in &by_hand {
        assert!(
            command.contains(&format!("-p {tcp} ")) && command.contains(" +tcp "),
            "a check named \"over TCP\" queried {command:?}, not TCP on port {tcp}\n{outcome}"
        );
    }
    project.assert_no_container_left();
}

#[test]
fn a_stale_conf_fails_test_at_construct_check_before_any_container_starts() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    add_bar_com(&project);
    let before = project.snapshot();
    let outcome = project.devloop().arg("test").run();
    outcome.code(1).stdout_has("FAIL test");
    let report = outcome.failed("construct --check");
    assert!(
        report.contains("out of date: conf/named_slave_zones"),
        "{report}\n{outcome}"
    );
    // Nothing after the gate ran; each of those steps is reported as skipped.
    outcome
        .stdout_lacks("✓ named-checkconf")
        .stdout_lacks("✗ named-checkconf")
        .stdout_has(
            "○ named-checkconf, slave mode (conf/named_slave_zones alone) (skipped: `construct --check` failed: the outputs are stale)",
        )
        .stdout_has("FAIL test: 0 passed, 1 failed, 20 skipped in ");
    assert!(
        project.snapshot() == before,
        "devloop test wrote to the tree"
    );
    project.assert_no_container_created();
}

/// `devloop construct` and `devloop test` both refuse with exit 2 and `message`, write
/// nothing and start no container.
fn fails_before_any_container(project: &Project, message: &str) {
    let before = project.snapshot();
    project
        .devloop()
        .arg("construct")
        .run()
        .code(2)
        .stderr_has(message)
        .stderr_has("nothing was written");
    project
        .devloop()
        .arg("test")
        .run()
        .code(2)
        .stderr_has(message);
    assert!(project.snapshot() == before, "something was written");
    project.assert_no_container_created();
}

/// Replaces `old` with `new` in templates/slave_zones.j2: the run fails before any
/// container with `error` at the template's line that starts with `start`.
fn a_template_error_names_its_line(old: &str, new: &str, start: &str, error: &str) {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    project.replace("templates/slave_zones.j2", old, new);
    let line = project.line_of("templates/slave_zones.j2", start);
    fails_before_any_container(
        &project,
        &format!("template templates/slave_zones.j2:{line}: {error}"),
    );
}

#[test]
fn a_template_syntax_error_names_the_template_and_line_with_exit_2() {
    a_template_error_names_its_line(
        "    type slave;",
        "    type slave; {{ oops oops }}",
        "    type slave; {{ oops",
        "syntax error",
    );
}

#[test]
fn an_undefined_template_variable_names_the_template_and_line_with_exit_2() {
    a_template_error_names_its_line(
        "// {{ zone.name }}: owner {{ zone.owner }}",
        "// {{ zone.name }}: owner {{ zone.nosuchfield }}",
        "// {{ zone.name }}",
        "undefined value",
    );
}

#[test]
fn a_broken_zones_yaml_names_the_file_line_and_column_with_exit_2() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    let broken = "    owner: web team: hostmaster";
    project.replace(
        "zones.yaml",
        "    owner: \"web team <hostmaster@example.com>\"",
        broken,
    );
    let line = project.line_of("zones.yaml", broken);
    let column = broken.find(": hostmaster").expect("the second colon") + 1;
    fails_before_any_container(
        &project,
        &format!("zones.yaml:{line}:{column}: mapping values are not allowed"),
    );
}

#[test]
fn a_broken_zone_file_fails_naming_the_zone_and_the_line_named_checkzone_reported() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    project.replace_line(
        "zones/example.net.zone",
        "www     IN  A",
        "www     IN  A     192.0.2.300",
    );
    let at = format!(
        "example.net.zone:{}",
        project.line_of("zones/example.net.zone", "www     IN  A")
    );

    // The `check` task on its own runs every check and names the culprit.
    let check = project.devloop().arg("check").run();
    check.code(1).passed("named-checkzone example.com");
    let report = check.failed("named-checkzone example.net");
    assert!(
        report.contains(&at) && report.contains("bad dotted quad"),
        "named-checkzone's file and line should be shown:\n{report}\n{check}"
    );

    // So does `test`, of which `check` is a prerequisite.
    let test = project.devloop().arg("test").run();
    test.code(1)
        .within(TEST_RUN)
        .output_has(&at)
        .stdout_has("FAIL test");
    let report = test.failed("named-checkzone example.net");
    assert!(report.contains(&at), "{report}\n{test}");
    project.assert_no_container_left();
}

#[test]
fn construct_in_json_lines_names_what_is_stale_and_writes_nothing_when_checking() {
    let project = Project::bind();
    let fresh = project
        .devloop()
        .args(["construct", "--check", "--format", "json"])
        .run();
    let shown = events(fresh.success());
    assert_eq!(shown.len(), 1, "{fresh}");
    assert_eq!(shown[0]["event"], "construct");
    assert_eq!(shown[0]["status"], "pass");
    assert_eq!(shown[0]["stale"], serde_json::json!([]));

    add_bar_com(&project);
    let before = project.snapshot();
    let stale = project
        .devloop()
        .args(["construct", "--check", "--format", "json"])
        .run();
    let shown = events(stale.code(1));
    assert_eq!(shown.len(), 1, "nothing but JSON Lines on stdout\n{stale}");
    let construct = &shown[0];
    assert_eq!(construct["status"], "fail");
    assert_eq!(construct["mode"], "check");
    assert_eq!(
        construct["stale"],
        serde_json::json!(["conf/named_slave_zones"])
    );
    let slave = construct["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["output"] == "conf/named_slave_zones")
        .unwrap_or_else(|| panic!("the slave zones output\n{stale}"));
    assert_eq!(
        (&slave["insertions"], &slave["deletions"]),
        (&serde_json::json!(7), &serde_json::json!(0))
    );
    assert!(
        project.snapshot() == before,
        "construct --check must write nothing"
    );
}
