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
