//! `devloop watch` against the real Docker engine and the real images: a save flips the
//! verdict in a warm container (rbldnsd reloads on HUP, named on `rndc reload`), quick saves
//! are coalesced, a dead service is restarted with its last words shown, a change to
//! devloop.toml starts a fresh container, and a signal leaves nothing behind.
//!
//! Each watch runs in the background. Should a test fail half-way, dropping its [`Watch`]
//! kills devloop and dropping its [`Project`] removes the containers it left, so nothing
//! outlives the test, panic or not.

mod common;

use std::time::{Duration, Instant};

use common::{BIND_IMAGE, Project, Running, WorkTree, require_docker, require_docker_with};
use serde_json::Value;

/// How long the first run of a watch may take (start the service, wait until ready, check).
const FIRST_RUN: Duration = Duration::from_secs(20);
/// How long a rerun may take to report after a save.
const RERUN: Duration = Duration::from_secs(10);

/// A `devloop watch` running in the background.
struct Watch {
    run: Running,
}

impl Watch {
    fn start(project: &Project, args: &[&str]) -> Watch {
        Watch {
            run: project.devloop().arg("watch").args(args).spawn(),
        }
    }

    /// The complete JSON Lines written so far.
    fn events(&self) -> Vec<Value> {
        let out = self.run.stdout_so_far();
        let complete = out.rsplit_once('\n').map_or("", |(lines, _)| lines);
        complete
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{self}")))
            .collect()
    }

    fn summaries(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "summary")
            .collect()
    }

    /// Polls `probe` until it gives something; fails the test when devloop exits or time
    /// runs out, showing what it said.
    fn wait_for<T>(
        &mut self,
        what: &str,
        within: Duration,
        mut probe: impl FnMut(&Watch) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = probe(self) {
                return found;
            }
            if let Some(status) = self.run.exited() {
                panic!("devloop watch ended ({status}) while waiting for {what}\n{self}");
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}\n{self}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `n` summaries have been reported; the `n`th.
    fn summary(&mut self, n: usize, within: Duration) -> Value {
        self.wait_for(&format!("summary #{n}"), within, |w| {
            w.summaries().into_iter().nth(n - 1)
        })
    }

    /// Waits until nothing new has been written for `quiet` (at most `within`).
    fn settle(&mut self, quiet: Duration, within: Duration) {
        let mut last = (self.run.stdout_so_far(), self.run.stderr_so_far());
        let mut since = Instant::now();
        self.wait_for("a quiet moment", within, |w| {
            let now = (w.run.stdout_so_far(), w.run.stderr_so_far());
            if now != last {
                last = now;
                since = Instant::now();
            }
            (since.elapsed() >= quiet).then_some(())
        });
    }

    /// The check of the last run that has this name.
    fn last_check(&self, name: &str) -> Value {
        self.events()
            .into_iter()
            .rev()
            .find(|e| e["event"] == "check" && e["name"] == name)
            .unwrap_or_else(|| panic!("no check {name:?} reported\n{self}"))
    }

    /// The containers the runs reported ready, in order.
    fn ready_containers(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "ready")
            .map(|e| e["container"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Sends `signal` and waits for devloop to end; its outcome.
    fn stop(self, signal: libc::c_int) -> common::Outcome {
        self.run.signal(signal);
        let Watch { run } = self;
        run.wait()
    }
}

impl std::fmt::Display for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- stdout so far\n{}", self.run.stdout_so_far())?;
        write!(f, "--- stderr so far\n{}---", self.run.stderr_so_far())
    }
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{summary}"))
}

/// Exactly one container of the project exists, and it runs; its name.
fn one_running_container(project: &Project, watch: &Watch) -> String {
    let all = project.container_names();
    assert_eq!(all.len(), 1, "one container expected: {all:?}\n{watch}");
    assert_eq!(
        project.running_containers().len(),
        1,
        "the container should run\n{watch}"
    );
    all[0].clone()
}

/// Adds a check after the example's last one: `name` expects `dns` to be listed.
fn add_last_check(project: &Project, name: &str, dns: &str) {
    let last_step =
        "  { name = \"wl RFC 5782\", rfc5782 = \"senderhost.wl.rbl\", list = \"domain\" },";
    project.replace(
        "devloop.toml",
        last_step,
        &format!(
            "{last_step}\n  {{ name = \"{name}\", dns = \"{dns}\", expect = [\"127.0.0.2\"] }},"
        ),
    );
}

/// The project had one container the whole time; `signal` ends the watch with exit status
/// `code`, leaving nothing.
fn stop_after_one_container(project: &Project, watch: Watch, signal: libc::c_int, code: i32) {
    assert_eq!(
        project.containers_created().len(),
        1,
        "one container the whole time\n{watch}"
    );
    watch.stop(signal).code(code);
    project.assert_no_container_left();
}

const BLACKLISTED: &str = "sh8.mailingliststart.com is blacklisted";

#[test]
fn a_zone_change_flips_the_verdict_in_the_same_container_and_sigint_leaves_nothing() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let original = project.read("zones/bl");
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(
        (first["status"].as_str(), count(&first, "failed")),
        (Some("pass"), 0),
        "{first}\n{watch}"
    );
    let container = one_running_container(&project, &watch);

    project.replace(
        "zones/bl",
        ".mailingliststart.com :127.0.0.2:Excessive spam from this host\n",
        "",
    );
    let saved = Instant::now();
    let flipped = watch.summary(2, RERUN);
    let latency = saved.elapsed();
    assert!(count(&flipped, "failed") > 0, "{flipped}\n{watch}");
    assert_eq!(watch.last_check(BLACKLISTED)["status"], "fail", "{watch}");
    assert!(
        latency < Duration::from_secs(3),
        "took {latency:?}\n{watch}"
    );
    assert_eq!(one_running_container(&project, &watch), container);

    project.write("zones/bl", &original);
    let back = watch.summary(3, RERUN);
    assert_eq!(
        (back["status"].as_str(), count(&back, "failed")),
        (Some("pass"), 0),
        "{back}\n{watch}"
    );
    assert_eq!(watch.last_check(BLACKLISTED)["status"], "pass");
    assert_eq!(one_running_container(&project, &watch), container);

    stop_after_one_container(&project, watch, libc::SIGINT, 130);
}

#[test]
fn five_quick_saves_give_at_most_two_reruns_in_one_container_and_sigterm_leaves_nothing() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    // The last of the saves below adds q5: the last rerun must have seen it.
    add_last_check(
        &project,
        "the last quick save is served",
        "q5.quick.example.senderhost.bl.rbl",
    );
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(count(&first, "failed"), 1, "{first}\n{watch}");

    for i in 1..=5 {
        project.append(
            "zones/bl",
            &format!(".q{i}.quick.example :127.0.0.2:quick save {i}\n"),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    watch.summary(2, RERUN);
    // Longer than the reload's timeout, so a rerun that waits for it is counted too.
    watch.settle(Duration::from_millis(2500), RERUN);
    let summaries = watch.summaries();
    let reruns = summaries.len() - 1;
    assert!(
        (1..=2).contains(&reruns),
        "five quick saves gave {reruns} reruns\n{watch}"
    );
    let last = summaries.last().expect("a summary");
    assert_eq!(
        (last["status"].as_str(), count(last, "failed")),
        (Some("pass"), 0),
        "the last rerun should see the last save: {last}\n{watch}"
    );
    one_running_container(&project, &watch);

    stop_after_one_container(&project, watch, libc::SIGTERM, 143);
}

#[test]
fn saves_that_land_during_reruns_are_applied_by_reload_never_by_a_restart() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    add_last_check(
        &project,
        "the last save is served",
        "s11.steady.example.senderhost.bl.rbl",
    );
    project.replace(
        "devloop.toml",
        "[watch]\n",
        "[watch]\ndebounce = \"30ms\"\n",
    );
    let mut watch = Watch::start(&project, &["--format", "json"]);
    watch.summary(1, FIRST_RUN);

    // Saves a little further apart than the debounce: some land while a rerun reloads,
    // and the reload may already have read them when their rerun comes.
    // Uneven gaps, so that some save lands just before a reload reads the file.
    let gaps = [40, 33, 47, 36, 52, 31, 44, 38, 49, 35, 0];
    for (i, gap) in (1..=11).zip(gaps) {
        project.append(
            "zones/bl",
            &format!(".s{i}.steady.example :127.0.0.2:steady save {i}\n"),
        );
        std::thread::sleep(Duration::from_millis(gap));
    }
    watch.summary(2, RERUN);
    watch.settle(Duration::from_millis(2500), Duration::from_secs(20));
    let last = watch.summaries().pop().expect("a summary");
    assert_eq!(last["status"], "pass", "{last}\n{watch}");
    let notes: Vec<Value> = watch
        .events()
        .into_iter()
        .filter(|e| e["event"] == "note")
        .collect();
    assert!(
        notes.is_empty() && project.containers_created().len() == 1,
        "every save should be applied by a reload of the one container, got {notes:?}\n{watch}"
    );

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

#[test]
fn a_service_that_died_is_restarted_with_its_last_log_lines_shown() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let mut watch = Watch::start(&project, &["--no-clear"]);
    let passes = |w: &Watch| w.run.stdout_so_far().matches("PASS test:lists").count();
    watch.wait_for("the first verdict", FIRST_RUN, |w| {
        (passes(w) == 1).then_some(())
    });
    let dead = one_running_container(&project, &watch);
    let killed = std::process::Command::new("docker")
        .args(["kill", "--signal", "KILL", &dead])
        .output()
        .expect("docker kill");
    assert!(killed.status.success(), "{killed:?}");

    project.append(
        "zones/bl",
        ".died.example :127.0.0.2:after the service died\n",
    );
    watch.wait_for("the verdict after the restart", RERUN, |w| {
        (passes(w) == 2).then_some(())
    });
    let stdout = watch.run.stdout_so_far();
    assert!(
        stdout.contains("· zones/bl changed"),
        "the header names the file that triggered the run\n{watch}"
    );
    assert!(!stdout.contains("FAIL"), "{watch}");
    let stderr = watch.run.stderr_so_far();
    assert!(
        stderr.contains("the service had exited (status 137)"),
        "the death should be noted\n{watch}"
    );
    assert!(
        stderr.contains("  | rbldnsd: "),
        "its last log lines should be shown\n{watch}"
    );
    let fresh = one_running_container(&project, &watch);
    assert_ne!(fresh, dead, "a fresh container");

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

#[test]
fn a_devloop_toml_change_restarts_the_container_and_a_broken_one_is_shown_until_fixed() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let config = project.read("devloop.toml");
    let mut watch = Watch::start(&project, &["--format", "json"]);
    watch.summary(1, FIRST_RUN);
    let first = one_running_container(&project, &watch);

    project.append("devloop.toml", "# an edit\n");
    let second = watch.summary(2, FIRST_RUN);
    assert_eq!(second["status"], "pass", "{second}\n{watch}");
    let restarted = one_running_container(&project, &watch);
    assert_ne!(restarted, first, "a new container\n{watch}");
    assert_eq!(watch.ready_containers(), [first.clone(), restarted.clone()]);

    project.append("devloop.toml", "[broken\n");
    let line = project.line_of("devloop.toml", "[broken");
    let at = format!("devloop.toml:{line}:8");
    watch.wait_for("the config error", RERUN, |w| {
        w.run.stderr_so_far().contains(&at).then_some(())
    });
    assert!(
        watch.run.stderr_so_far().contains("unclosed table"),
        "{watch}"
    );
    assert!(
        watch.run.exited().is_none(),
        "the watch should go on\n{watch}"
    );
    assert_eq!(watch.summaries().len(), 2, "{watch}");

    project.write("devloop.toml", &config);
    let fixed = watch.summary(3, FIRST_RUN);
    assert_eq!(fixed["status"], "pass", "{fixed}\n{watch}");
    let last = one_running_container(&project, &watch);
    assert!(last != first && last != restarted, "{watch}");

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

#[test]
fn bind_applies_a_zone_change_with_rndc_reload_in_the_same_container() {
    let _docker = require_docker_with(BIND_IMAGE);
    let project = Project::bind();
    assert!(
        project
            .read("devloop.toml")
            .contains("reload = { exec = [\"rndc\", \"reload\"], log = \"all zones loaded\""),
        "the BIND example reloads with rndc"
    );
    project.replace(
        "devloop.toml",
        "  { name = \"no such name\"",
        "  { name = \"www.example.net A\", dns = \"www.example.net\", port = \"5300/udp\", expect = [\"192.0.2.11\"] },\n  { name = \"no such name\"",
    );
    let zone = "zones/example.net.zone";
    let change = |address: &str, serial: &str| {
        project.replace_line(
            zone,
            "www     IN  A",
            &format!("www     IN  A     {address}"),
        );
        project.replace_line(
            zone,
            "                  20",
            &format!("                  {serial} ; serial"),
        );
    };
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(first["status"], "pass", "{first}\n{watch}");
    let container = one_running_container(&project, &watch);

    change("192.0.2.12", "2025010102");
    let flipped = watch.summary(2, RERUN);
    assert_eq!(count(&flipped, "failed"), 1, "{flipped}\n{watch}");
    let check = watch.last_check("www.example.net A");
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["got"]
            .as_str()
            .unwrap_or_default()
            .contains("192.0.2.12"),
        "{check}"
    );

    change("192.0.2.11", "2025010103");
    let back = watch.summary(3, RERUN);
    assert_eq!(
        (back["status"].as_str(), count(&back, "failed")),
        (Some("pass"), 0),
        "{back}\n{watch}"
    );
    assert!(
        !watch.events().iter().any(|e| e["event"] == "note"),
        "rndc reload should have done it, without a restart\n{watch}"
    );
    assert_eq!(one_running_container(&project, &watch), container);
    assert_eq!(project.containers_created().len(), 1, "{watch}");
    let log = std::process::Command::new("docker")
        .args(["logs", &container])
        .output()
        .expect("docker logs");
    let log =
        String::from_utf8_lossy(&log.stderr).into_owned() + &String::from_utf8_lossy(&log.stdout);
    for line in [
        "received control channel command 'reload'",
        "reloading zones succeeded",
        "zone example.net/IN: loaded serial 2025010103",
    ] {
        assert!(log.contains(line), "named should log {line:?}:\n{log}");
    }

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

/// The check events of the run that reported the last summary so far.
fn last_run_checks(watch: &Watch) -> Vec<Value> {
    let events = watch.events();
    let last = events
        .iter()
        .rposition(|e| e["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary\n{watch}"));
    let first = events[..last]
        .iter()
        .rposition(|e| e["event"] == "summary")
        .map_or(0, |at| at + 1);
    events[first..last]
        .iter()
        .filter(|e| e["event"] == "check")
        .cloned()
        .collect()
}

#[test]
fn a_burst_of_saves_gives_a_few_reruns_whatever_the_gap_and_the_last_one_sees_the_last_save() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    // Gaps well below the debounce, so that each burst is one stream of changes even when
    // the machine is busy; bursts of 0.5 to 4 s, longer than the settle limit (1 s), so
    // that runs and saves overlap.
    const SAVES: usize = 100;
    const DEBOUNCE: Duration = Duration::from_millis(150);
    let gaps = [5, 10, 20, 40];
    for burst in 1..=gaps.len() {
        add_last_check(
            &project,
            &format!("burst {burst}'s last save is served"),
            &format!("s{SAVES}.burst{burst}.example.senderhost.bl.rbl"),
        );
    }
    project.replace(
        "devloop.toml",
        "[watch]\n",
        &format!("[watch]\ndebounce = \"{}ms\"\n", DEBOUNCE.as_millis()),
    );
    let mut watch = Watch::start(&project, &["--format", "json"]);
    watch.summary(1, FIRST_RUN);

    let mut seen = Vec::new();
    for (burst, gap) in (1..).zip(gaps) {
        let before = watch.summaries().len();
        let started = Instant::now();
        let mut last_save = started;
        let mut widest = Duration::ZERO;
        for save in 1..=SAVES {
            project.append(
                "zones/bl",
                &format!(".s{save}.burst{burst}.example :127.0.0.2:save {save} of burst {burst}\n"),
            );
            widest = widest.max(last_save.elapsed());
            last_save = Instant::now();
            std::thread::sleep(Duration::from_millis(gap));
        }
        let lasted = started.elapsed();
        watch.summary(before + 1, RERUN);
        // Longer than the reload's timeout, so a rerun that waits for it is counted too.
        watch.settle(Duration::from_millis(2500), Duration::from_secs(30));
        let reruns = watch.summaries().len() - before;
        // One run per second of saves at most (the settle limit), and one for the tail.
        let bound = usize::try_from(lasted.as_secs()).unwrap_or(usize::MAX) + 2;
        seen.push((gap, lasted, reruns));
        assert!(
            reruns <= bound,
            "{SAVES} saves {gap} ms apart ({lasted:?}) gave {reruns} reruns, more than {bound} \
             (so far: {seen:?}; the widest gap between two saves was {widest:?}, the debounce \
             {DEBOUNCE:?})\n{watch}"
        );
        let served = last_run_checks(&watch)
            .into_iter()
            .find(|c| c["name"] == format!("burst {burst}'s last save is served"))
            .unwrap_or_else(|| panic!("the last run has no check for burst {burst}\n{watch}"));
        assert_eq!(
            served["status"], "pass",
            "the last run should see the last save of burst {burst}: {served}\n{watch}"
        );
    }
    eprintln!("(gap, burst, reruns): {seen:?}");
    one_running_container(&project, &watch);

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

/// The notes devloop wrote so far.
fn notes(watch: &Watch) -> Vec<String> {
    watch
        .events()
        .into_iter()
        .filter(|e| e["event"] == "note")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Puts `zones` back as a restore from a backup or a `git checkout` of a deleted
/// directory does (world-readable, as a checkout is), with `bl` as given and the example's
/// `wl`. The copy is made beside it and renamed into place, so that no run can see it
/// half-copied.
fn restore_zones(project: &Project, bl: &str) {
    let wl = std::fs::read_to_string(common::repo_root().join("examples/rbldnsd/zones/wl"))
        .expect("the example's wl");
    let staged = tempfile::tempdir_in(project.path()).expect("tempdir");
    std::fs::write(staged.path().join("bl"), bl).expect("write bl");
    std::fs::write(staged.path().join("wl"), wl).expect("write wl");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(staged.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let staged = staged.keep();
    std::fs::rename(&staged, project.file("zones")).expect("rename into place");
}

#[test]
fn zones_removed_and_restored_are_served_by_a_fresh_container_then_reloaded_as_before() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let original = project.read("zones/bl");
    // On a busy machine the test can be put aside between two of the removals for longer
    // than the default debounce, and a run would see a tree half removed (which the check
    // of the answers after a reload then catches, another test's subject).
    project.replace(
        "devloop.toml",
        "[watch]\n",
        "[watch]\ndebounce = \"300ms\"\n",
    );
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(first["status"], "pass", "{first}\n{watch}");
    let before = one_running_container(&project, &watch);

    // rbldnsd is chrooted in zones: a reload would read the deleted directory.
    std::fs::remove_dir_all(project.file("zones")).expect("rm -rf zones");
    restore_zones(&project, &original);
    let restored = watch.summary(2, FIRST_RUN);
    assert_eq!(
        (restored["status"].as_str(), count(&restored, "failed")),
        (Some("pass"), 0),
        "the restored zones should be served\n{watch}"
    );
    assert!(
        notes(&watch)
            .iter()
            .any(|n| n.starts_with("zones/ was removed or replaced")),
        "a note should say why the container was replaced\n{watch}"
    );
    let fresh = one_running_container(&project, &watch);
    assert_ne!(fresh, before, "a fresh container\n{watch}");

    // Later saves are reloads of the fresh container again, and they take effect.
    project.replace(
        "zones/bl",
        ".mailingliststart.com :127.0.0.2:Excessive spam from this host\n",
        "",
    );
    let flipped = watch.summary(3, RERUN);
    assert!(count(&flipped, "failed") > 0, "{flipped}\n{watch}");
    assert_eq!(watch.last_check(BLACKLISTED)["got"], "NXDOMAIN", "{watch}");
    project.write("zones/bl", &original);
    let back = watch.summary(4, RERUN);
    assert_eq!(back["status"], "pass", "{back}\n{watch}");
    assert_eq!(one_running_container(&project, &watch), fresh);

    // Removed and not restored: the service cannot start without it, which is the
    // verdict; once it is back, so is the service.
    std::fs::remove_dir_all(project.file("zones")).expect("rm -rf zones");
    let gone = watch.summary(5, FIRST_RUN);
    assert_eq!(gone["status"], "error", "{gone}\n{watch}");
    restore_zones(&project, &original);
    let again = watch.summary(6, FIRST_RUN);
    assert_eq!(again["status"], "pass", "{again}\n{watch}");
    assert_eq!(project.containers_created().len(), 4, "{watch}");

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

#[test]
fn a_reload_that_leaves_names_unanswered_is_not_a_verdict_a_fresh_container_gives_it() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(first["status"], "pass", "{first}\n{watch}");
    let before = one_running_container(&project, &watch);

    // An editor under umask 077 saves bl: rbldnsd (user rbldns) reloads, cannot read it
    // and stops serving the black list: SERVFAIL where it answered a moment ago.
    let staged = project.file("zones/.bl.new");
    let mut bl = project.read("zones/bl");
    bl.push_str(".perm.example :127.0.0.2:saved under umask 077\n");
    std::fs::write(&staged, bl).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::rename(&staged, project.file("zones/bl")).expect("rename over bl");

    let verdict = watch.summary(2, FIRST_RUN);
    let notes = notes(&watch);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("after the reload the service failed ")
                && n.contains("SERVFAIL or REFUSED")
                && n.ends_with("starting a fresh container and running again")),
        "a note should say why the verdict comes from a fresh container: {notes:?}\n{watch}"
    );
    // The reloaded container's answers are not reported; the fresh container's verdict
    // is: rbldnsd refuses to start on a zone it cannot read.
    assert_eq!(watch.summaries().len(), 2, "{watch}");
    let created = project.containers_created();
    assert_eq!(created.len(), 2, "a fresh container\n{watch}");
    assert_eq!(
        (verdict["status"].as_str(), count(&verdict, "failed")),
        (Some("error"), 0),
        "{verdict}\n{watch}"
    );
    assert!(
        watch
            .run
            .stderr_so_far()
            .contains("unable to open file: Permission denied"),
        "the fresh container's log says why\n{watch}"
    );
    assert!(
        last_run_checks(&watch)
            .iter()
            .all(|c| c["status"] == "skip"),
        "no check of the reloaded container is reported\n{watch}"
    );

    std::fs::set_permissions(
        project.file("zones/bl"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let fixed = watch.summary(3, FIRST_RUN);
    assert_eq!(fixed["status"], "pass", "{fixed}\n{watch}");
    assert_ne!(one_running_container(&project, &watch), before);

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

#[test]
fn a_project_directory_replaced_whole_is_watched_and_served_anew() {
    let _docker = require_docker();
    let project = Project::rbldnsd_at("checkout");
    let mut watch = Watch::start(&project, &["--format", "json"]);
    let first = watch.summary(1, FIRST_RUN);
    assert_eq!(first["status"], "pass", "{first}\n{watch}");
    let before = one_running_container(&project, &watch);

    // As a fresh clone or a restore from a backup does: the old tree moves away, a copy
    // takes its place. Nothing in the new one is watched yet, and the container mounts
    // the old one.
    let root = project.path().to_path_buf();
    let old = root.with_file_name("checkout.old");
    let new = root.with_file_name("checkout.new");
    std::fs::create_dir(&new).expect("mkdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    common::copy_tree(&root, &new);
    std::fs::rename(&root, &old).expect("move the project away");
    std::fs::rename(&new, &root).expect("move the copy into place");

    let anew = watch.summary(2, FIRST_RUN);
    assert_eq!(anew["status"], "pass", "{anew}\n{watch}");
    let fresh = one_running_container(&project, &watch);
    assert_ne!(fresh, before, "a container of the new tree\n{watch}");
    let mounted = project.inspect(&fresh)["Mounts"][0]["Source"].clone();
    assert_eq!(mounted, root.to_str().expect("utf-8"), "{watch}");

    // A save in the new tree is seen, and served.
    project.replace(
        "zones/bl",
        ".mailingliststart.com :127.0.0.2:Excessive spam from this host\n",
        "",
    );
    let flipped = watch.summary(3, RERUN);
    assert!(count(&flipped, "failed") > 0, "{flipped}\n{watch}");
    assert_eq!(one_running_container(&project, &watch), fresh);

    watch.stop(libc::SIGINT).code(130);
    project.assert_no_container_left();
}

/// A watch of a project whose task ends with a host step that takes `SLOW`, with
/// `[watch] on_busy` as given: a first run, then a save whose run is in its slow step when
/// a second save lands. The summaries it gave once quiet.
fn a_save_during_a_run(on_busy: &str) -> (Project, Watch, Vec<Value>) {
    const SLOW: &str = "1.5";
    let project = Project::rbldnsd();
    // Each check added goes right after the example's last one: the slow step ends up
    // last, after both.
    let last_step =
        "  { name = \"wl RFC 5782\", rfc5782 = \"senderhost.wl.rbl\", list = \"domain\" },";
    project.replace(
        "devloop.toml",
        last_step,
        // It tells when it starts in a file outside `[watch] paths`: the checks of a run
        // after a reload are held back until it is over, so they cannot tell.
        &format!(
            "{last_step}\n  {{ name = \"a slow step\", sh = \"echo >> slow-steps; sleep {SLOW}\" }},"
        ),
    );
    add_last_check(
        &project,
        "the first save is served",
        "b1.busy.example.senderhost.bl.rbl",
    );
    add_last_check(
        &project,
        "the save during the run is served",
        "b2.busy.example.senderhost.bl.rbl",
    );
    project.replace(
        "devloop.toml",
        "[watch]\n",
        &format!("[watch]\non_busy = \"{on_busy}\"\n"),
    );
    let mut watch = Watch::start(&project, &["--format", "json"]);
    watch.summary(1, FIRST_RUN);

    project.append("zones/bl", ".b1.busy.example :127.0.0.2:the first save\n");
    let slow_steps =
        || std::fs::read_to_string(project.file("slow-steps")).map_or(0, |s| s.lines().count());
    watch.wait_for("the second run's slow step", RERUN, |_| {
        (slow_steps() == 2).then_some(())
    });
    // The second run is in its slow step now: this save lands during it.
    project.append(
        "zones/bl",
        ".b2.busy.example :127.0.0.2:a save during the run\n",
    );
    watch.summary(2, RERUN);
    // Longer than the slow step and the reload's timeout: a third run would show.
    watch.settle(Duration::from_millis(3000), Duration::from_secs(20));
    let summaries = watch.summaries();
    (project, watch, summaries)
}

#[test]
fn a_save_during_a_run_makes_one_more_run_that_sees_it_when_queued() {
    let _docker = require_docker();
    let (project, watch, summaries) = a_save_during_a_run("queue");
    assert_eq!(summaries.len(), 3, "one more run\n{watch}");
    assert_eq!(summaries[2]["status"], "pass", "{watch}");
    assert_eq!(
        watch.last_check("the save during the run is served")["status"],
        "pass",
        "{watch}"
    );
    let rounds = watch
        .events()
        .iter()
        .filter(|e| e["event"] == "round")
        .count();
    assert_eq!(rounds, 3, "a round event heads each run\n{watch}");
    stop_after_one_container(&project, watch, libc::SIGINT, 130);
}

#[test]
fn a_save_during_a_run_is_dropped_with_on_busy_do_nothing() {
    let _docker = require_docker();
    let (project, mut watch, summaries) = a_save_during_a_run("do-nothing");
    assert_eq!(
        summaries.len(),
        2,
        "no run for the save during one\n{watch}"
    );
    assert_eq!(
        watch.last_check("the save during the run is served")["status"],
        "fail",
        "the second run came before the save\n{watch}"
    );
    // The next save is a run again, and it reads both.
    project.append("zones/bl", "# one more save\n");
    let third = watch.summary(3, RERUN);
    assert_eq!(third["status"], "pass", "{third}\n{watch}");
    stop_after_one_container(&project, watch, libc::SIGINT, 130);
}
