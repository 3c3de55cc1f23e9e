//! `--format json`: JSON Lines on stdout, one object per event, each with an `"event"`
//! field. The fields of `check` and `summary` are a stable interface, and so are those of
//! the other commands' events, written by family (`project`, `image`, `fleet`).

mod fleet;
mod image;
mod project;

use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};

use super::millis;
use crate::events::{Event, Reporter, Verdict};

pub(crate) struct Json<W: Write> {
    out: W,
}

impl<W: Write> Json<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { out }
    }
}

pub(crate) fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "pass",
        Verdict::Failed => "fail",
        Verdict::Error => "error",
        Verdict::Interrupted => "interrupted",
    }
}

fn to_json(event: &Event<'_>) -> Option<Value> {
    Some(match event {
        Event::Started { task } => json!({ "event": "start", "task": task }),
        Event::Phase { .. } => return None,
        Event::ServiceReady {
            container,
            ports,
            elapsed,
        } => {
            let ports: serde_json::Map<String, Value> = ports
                .iter()
                .map(|(port, host)| (port.to_string(), json!(host)))
                .collect();
            json!({ "event": "ready", "container": container, "ports": ports,
                    "duration_ms": millis(*elapsed) })
        }
        Event::Check(check) => json!({
            "event": "check",
            "task": check.task,
            "name": check.name,
            "status": if check.passed { "pass" } else { "fail" },
            "duration_ms": millis(check.duration),
            "detail": check.detail,
            "asked": check.asked,
            "got": check.got,
            "command": check.command,
            "log_tail": check.log_tail,
        }),
        // A step that did not run is a check with its own status, so that a consumer
        // counting check events sees every step of the plan.
        Event::Skipped(skip) => json!({
            "event": "check",
            "task": skip.task,
            "name": skip.name,
            "status": "skip",
            "duration_ms": 0,
            "detail": skip.reason,
            "asked": "",
            "got": "",
            "command": "",
            "log_tail": [],
        }),
        Event::Note { message } => json!({ "event": "note", "message": message }),
        // Written by family, in `lines`.
        Event::Project(_) | Event::Image(_) | Event::Fleet(_) => return None,
        Event::Summary(summary) => json!({
            "event": "summary",
            "task": summary.task,
            "status": verdict_word(summary.verdict),
            "passed": summary.counts.passed,
            "failed": summary.counts.failed,
            "skipped": summary.counts.skipped,
            "tasks": summary
                .tasks
                .iter()
                .map(|(task, tally)| json!({
                    "task": task,
                    "passed": tally.passed,
                    "failed": tally.failed,
                    "skipped": tally.skipped,
                }))
                .collect::<Vec<Value>>(),
            "duration_ms": millis(summary.duration),
            "image": summary.image,
            "image_id": summary.image_id,
            "error": summary.error,
        }),
        // The local time of the header is for a person; a consumer has its own clock.
        Event::Round { task, trigger, .. } => {
            json!({ "event": "round", "task": task, "trigger": trigger })
        }
    })
}

/// The JSON Lines an event makes: one for most, one per item for a listing or a table.
fn lines(event: &Event<'_>) -> Vec<String> {
    match event {
        Event::Project(event) => project::lines(event),
        Event::Image(event) => image::lines(event),
        Event::Fleet(event) => fleet::lines(event),
        event => to_json(event).map(|v| v.to_string()).into_iter().collect(),
    }
}

/// A payload as its type serialises it, after the event's name.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    event: &'static str,
    #[serde(flatten)]
    payload: &'a T,
}

fn tagged(event: &'static str, payload: &impl Serialize) -> String {
    // Strings, numbers and maps with string keys: nothing here fails to serialise.
    serde_json::to_string(&Tagged { event, payload }).unwrap_or_default()
}

impl<W: Write + Send> Reporter for Json<W> {
    fn report(&mut self, event: &Event<'_>) {
        let lines = lines(event);
        if lines.is_empty() {
            return;
        }
        for line in lines {
            let _ = writeln!(self.out, "{line}");
        }
        // Flushed at once: a consumer reads events as they come.
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON Lines, read back.
    pub(super) fn parsed(lines: Vec<String>) -> Vec<Value> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
    use crate::events::{CheckOutcome, Skip, Summary, Tallies};
    use std::time::Duration;

    #[test]
    fn check_and_summary_carry_the_stable_fields() {
        let check = CheckOutcome {
            task: "test:host".into(),
            name: "black list".into(),
            passed: false,
            duration: Duration::from_millis(3),
            detail: "expected A 127.0.0.2, got NXDOMAIN".into(),
            asked: "A x.bl".into(),
            got: "NXDOMAIN".into(),
            command: "dig ...".into(),
            log_tail: vec!["line".into()],
            reply: None,
        };
        let skip = Skip {
            task: "test".into(),
            name: "VALIDATE".into(),
            reason: "prerequisite test:host failed at `black list`".into(),
        };
        let mut tasks = Tallies::new(["test:host", "test"]);
        tasks.passed("test:host");
        tasks.passed("test:host");
        tasks.failed("test:host");
        tasks.skipped("test");
        let summary = Summary {
            task: "test".into(),
            verdict: Verdict::Failed,
            counts: tasks.total(),
            tasks,
            duration: Duration::from_millis(412),
            image: Some("rbl:latest".into()),
            image_id: Some("sha256:ab".into()),
            error: None,
        };
        let mut out = Vec::new();
        let mut reporter = Json::new(&mut out);
        reporter.report(&Event::Check(&check));
        reporter.report(&Event::Skipped(&skip));
        reporter.report(&Event::Summary(&summary));
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines[0]["event"], "check");
        assert_eq!(lines[0]["status"], "fail");
        assert_eq!(lines[0]["duration_ms"], 3);
        assert_eq!(lines[0]["task"], "test:host");
        assert_eq!(lines[0]["detail"], "expected A 127.0.0.2, got NXDOMAIN");
        assert_eq!(lines[1]["event"], "check");
        assert_eq!(lines[1]["status"], "skip");
        assert_eq!(lines[1]["task"], "test");
        assert_eq!(lines[1]["duration_ms"], 0);
        assert_eq!(
            lines[1]["detail"],
            "prerequisite test:host failed at `black list`"
        );
        let summary = &lines[2];
        assert_eq!(summary["event"], "summary");
        assert_eq!(summary["task"], "test");
        assert_eq!(summary["passed"], 2);
        assert_eq!(summary["failed"], 1);
        assert_eq!(summary["skipped"], 1);
        assert_eq!(summary["duration_ms"], 412);
        assert_eq!(summary["image"], "rbl:latest");
        assert_eq!(summary["image_id"], "sha256:ab");
        assert_eq!(
            summary["tasks"],
            json!([
                { "task": "test:host", "passed": 2, "failed": 1, "skipped": 0 },
                { "task": "test", "passed": 0, "failed": 0, "skipped": 1 },
            ])
        );
    }

    #[test]
    fn a_watch_round_is_a_round_event_without_the_screen_and_clock() {
        let mut out = Vec::new();
        Json::new(&mut out).report(&Event::Round {
            task: "test:lists",
            time: "14:03:07",
            trigger: "zones/bl changed",
            clear: true,
        });
        let line: Value = serde_json::from_slice(&out).expect("json line");
        assert_eq!(
            line,
            json!({ "event": "round", "task": "test:lists", "trigger": "zones/bl changed" })
        );
    }
}
