//! `--format json`: JSON Lines on stdout, one object per event, each with an `"event"`
//! field. The fields of `check` and `summary` are a stable interface.

use std::io::Write;

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
        Event::Note { message } => json!({ "event": "note", "message": message }),
        Event::Summary(summary) => json!({
            "event": "summary",
            "task": summary.task,
            "status": verdict_word(summary.verdict),
            "passed": summary.passed,
            "failed": summary.failed,
            "duration_ms": millis(summary.duration),
            "image": summary.image,
            "image_id": summary.image_id,
            "error": summary.error,
        }),
    })
}

impl<W: Write + Send> Reporter for Json<W> {
    fn report(&mut self, event: &Event<'_>) {
        if let Some(value) = to_json(event) {
            // One line per event, flushed at once: a consumer reads events as they come.
            let _ = writeln!(self.out, "{value}");
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CheckOutcome, Summary};
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
        };
        let summary = Summary {
            task: "test:host".into(),
            verdict: Verdict::Failed,
            passed: 2,
            failed: 1,
            duration: Duration::from_millis(412),
            image: Some("rbl:latest".into()),
            image_id: Some("sha256:ab".into()),
            error: None,
        };
        let mut out = Vec::new();
        let mut reporter = Json::new(&mut out);
        reporter.report(&Event::Check(&check));
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
        assert_eq!(lines[1]["event"], "summary");
        assert_eq!(lines[1]["passed"], 2);
        assert_eq!(lines[1]["failed"], 1);
        assert_eq!(lines[1]["image_id"], "sha256:ab");
    }
}
