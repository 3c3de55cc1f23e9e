//! `validate` and `update` as JSON Lines: `output` (one per line a method wrote),
//! `method` (how each ended), then `target` (one per row of the table) and `fleet` (the
//! tally). The rollout, its batches and each method's start are for the terminal only.

use serde_json::{Value, json};

use super::millis;
use crate::events::{FleetEvent, FleetReport, MethodStatus, RowState};
use crate::report::short_id;
use crate::runtime::Stream;

pub(super) fn lines(event: &FleetEvent) -> Vec<String> {
    let values = match event {
        FleetEvent::Rollout(_) | FleetEvent::Batch(_) | FleetEvent::MethodStarted(_) => Vec::new(),
        FleetEvent::Output { run, stream, line } => vec![json!({
            "event": "output", "host": run.host, "container": run.container,
            "method": run.method,
            "stream": if *stream == Stream::Stderr { "stderr" } else { "stdout" },
            "line": line,
        })],
        FleetEvent::MethodDone {
            run,
            status,
            duration,
        } => vec![json!({
            "event": "method", "host": run.host, "container": run.container,
            "image_id": run.image_id, "method": run.method, "command": run.command,
            "status": status.word(), "exit_code": status.exit_code(),
            "detail": status.describe(), "duration_ms": millis(*duration),
        })],
        FleetEvent::Done(report) => {
            let mut values = targets(report);
            values.push(json!({
                "event": "fleet", "action": report.action, "method": report.method,
                "hosts": report.hosts, "batch": report.batch, "ok": report.ok(),
                "failed": report.failed(), "skipped": report.skipped(),
                "unreachable": report.unreachable(), "duration_ms": millis(report.duration),
            }));
            values
        }
    };
    values.into_iter().map(|v| v.to_string()).collect()
}

/// One `target` per row: the first method's outcome under the action's name (`update`,
/// `validate`), VALIDATE's after an update.
fn targets(report: &FleetReport) -> Vec<Value> {
    report
        .rows
        .iter()
        .map(|row| {
            let status = match &row.state {
                RowState::Ran(o) if o.first == MethodStatus::Skipped => "skipped",
                RowState::Ran(o) if o.failed() => "fail",
                RowState::Ran(_) => "pass",
                RowState::Unreachable(_) | RowState::Absent => "error",
            };
            let mut event = json!({
                "event": "target", "host": row.host, "container": row.container,
                "image_id": short_id(&row.image_id), report.action: row.describe(),
                "status": status,
            });
            if let RowState::Ran(o) = &row.state {
                if let Some(validate) = &o.validate {
                    event["validate"] = json!(validate.describe());
                }
                event["duration_ms"] = json!(millis(o.duration));
            }
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::parsed;
    use super::*;
    use crate::events::fleet_fixtures::{method_run, ran, report, unreachable};

    #[test]
    fn each_row_is_a_target_under_the_actions_name_then_the_tally() {
        let report = report(
            "update",
            vec![
                ran("a", MethodStatus::Failed(1), Some(MethodStatus::Skipped)),
                ran("b", MethodStatus::Skipped, Some(MethodStatus::Skipped)),
                unreachable("c", "no answer within 5s"),
            ],
        );
        let events = parsed(lines(&FleetEvent::Done(report)));
        assert_eq!(events.len(), 4);
        let (a, b, c) = (&events[0], &events[1], &events[2]);
        assert_eq!(a["event"], "target");
        assert_eq!(a["update"], "failed (exit 1)");
        assert_eq!(a["validate"], "skipped");
        assert_eq!(a["status"], "fail");
        assert_eq!(a["image_id"], "0123456789ab");
        assert_eq!(a["duration_ms"], 1500);
        assert_eq!(b["status"], "skipped");
        assert_eq!(c["status"], "error");
        assert_eq!(c["update"], "unreachable: no answer within 5s");
        assert!(c.get("duration_ms").is_none() && c.get("validate").is_none());
        let tally = &events[3];
        assert_eq!(tally["event"], "fleet");
        assert_eq!(
            (&tally["ok"], &tally["failed"], &tally["skipped"]),
            (&json!(0), &json!(1), &json!(1))
        );
        assert_eq!(tally["unreachable"], 1);
        assert_eq!(tally["duration_ms"], 2500);
    }

    #[test]
    fn progress_is_for_the_terminal_and_a_methods_end_is_a_method_event() {
        let run = method_run("a", "VALIDATE");
        assert!(lines(&FleetEvent::MethodStarted(run.clone())).is_empty());
        assert!(lines(&FleetEvent::Batch(vec!["a".into()])).is_empty());
        let done = parsed(lines(&FleetEvent::MethodDone {
            run,
            status: MethodStatus::Failed(2),
            duration: Duration::from_millis(40),
        }));
        assert_eq!(done[0]["event"], "method");
        assert_eq!(done[0]["status"], "fail");
        assert_eq!(done[0]["exit_code"], 2);
        assert_eq!(done[0]["image_id"], "sha256:0123456789abcdef");
        assert_eq!(done[0]["detail"], "failed (exit 2)");
    }
}
