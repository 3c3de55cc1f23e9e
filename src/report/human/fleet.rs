//! The terminal view of `validate` and `update`: progress on stderr (each batch, each
//! method as it starts and ends), what the methods write as they write it (prefixed with
//! host and container when several run), then a table of every container and the verdict.

use console::style;

use super::{Human, short_id};
use crate::events::{FleetEvent, FleetReport, FleetVerdict, MethodStatus, RowState};
use crate::runtime::Stream;

impl Human {
    pub(super) fn fleet(&mut self, event: &FleetEvent) {
        match event {
            FleetEvent::Rollout(rollout) => self.several = rollout.several(),
            FleetEvent::Batch(hosts) => {
                self.err_line(format!(
                    "{} batch: {}",
                    style("===").cyan(),
                    hosts.join(", ")
                ));
            }
            FleetEvent::MethodStarted(run) => self.err_line(format!(
                "{} {} in {} on {}: {}",
                style(">>>").cyan(),
                run.method,
                run.container,
                run.host,
                run.command
            )),
            FleetEvent::Output { run, stream, line } => {
                let prefix = if self.several {
                    format!(
                        "{} ",
                        style(format!("{} {} |", run.host, run.container)).dim()
                    )
                } else {
                    String::new()
                };
                match stream {
                    Stream::Stdout => self.line(format!("{prefix}{line}")),
                    Stream::Stderr => self.err_line(format!("{prefix}{line}")),
                }
            }
            FleetEvent::MethodDone {
                run,
                status,
                duration,
            } => {
                let mark = if status.failed() {
                    style("✗").red().to_string()
                } else {
                    style("✓").green().to_string()
                };
                self.err_line(format!(
                    "{mark} {} in {} on {}: {} ({:.2} s)",
                    run.method,
                    run.container,
                    run.host,
                    status.describe(),
                    duration.as_secs_f64()
                ));
            }
            FleetEvent::Done(report) => {
                if self.several {
                    self.table(report);
                }
                if !report.interrupted {
                    self.fleet_verdict(report);
                }
            }
        }
    }

    /// One row per container (or per host without one), in columns.
    fn table(&mut self, report: &FleetReport) {
        let update = report.action == "update";
        let mut header = vec!["HOST", "CONTAINER", "IMAGE", report.method];
        if update {
            header.push("VALIDATE");
        }
        header.push("DURATION");
        let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
        for row in &report.rows {
            let mut line = vec![
                row.host.clone(),
                row.container.clone(),
                short_id(&row.image_id).to_owned(),
            ];
            match &row.state {
                RowState::Ran(o) => {
                    line.push(o.first.describe());
                    if update {
                        line.push(
                            o.validate
                                .as_ref()
                                .map_or_else(|| "-".to_owned(), MethodStatus::describe),
                        );
                    }
                    line.push(if o.duration.is_zero() {
                        "-".to_owned()
                    } else {
                        format!("{:.2} s", o.duration.as_secs_f64())
                    });
                }
                RowState::Unreachable(_) | RowState::Absent => line.push(row.describe()),
            }
            lines.push(line);
        }
        // Column widths from the rows that fill every column; a note runs on to the end.
        let columns = lines[0].len();
        let mut widths = vec![0; columns];
        for line in &lines {
            let fixed = if line.len() == columns {
                columns
            } else {
                line.len() - 1
            };
            for (w, cell) in widths.iter_mut().zip(line).take(fixed) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for line in lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                if i + 1 == line.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:width$}  ", width = widths[i]));
                }
            }
            self.line(text.trim_end());
        }
    }

    fn fleet_verdict(&mut self, report: &FleetReport) {
        let head = match report.verdict() {
            FleetVerdict::Passed => style("PASS").green().bold(),
            FleetVerdict::Failed => style("FAIL").red().bold(),
            FleetVerdict::Incomplete => style("INCOMPLETE").red().bold(),
        };
        let unreachable = report.unreachable();
        self.line(format!(
            "{head} {}: {} ok, {} failed, {} skipped, {unreachable} unreachable host{} ({:.2} s)",
            report.action,
            report.ok(),
            report.failed(),
            report.skipped(),
            if unreachable == 1 { "" } else { "s" },
            report.duration.as_secs_f64()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::screens;
    use super::*;
    use crate::events::Event;
    use crate::events::fleet_fixtures::{method_run, ran, report, unreachable};

    /// A line UPDATE wrote in container `rbl` on host `a`.
    fn output(stream: Stream, line: &str) -> FleetEvent {
        FleetEvent::Output {
            run: method_run("a", "UPDATE"),
            stream,
            line: line.into(),
        }
    }

    #[test]
    fn several_containers_are_a_table_and_their_lines_say_whose_they_are() {
        let rollout = FleetEvent::Rollout(crate::events::Rollout {
            hosts: vec!["a".into(), "b".into()],
            targets: 1,
        });
        let said = output(Stream::Stdout, "revision: 1");
        let moaned = output(Stream::Stderr, "slow");
        let done = FleetEvent::Done(report(
            "update",
            vec![
                ran("a", MethodStatus::Failed(1), Some(MethodStatus::Skipped)),
                unreachable("b", "no answer within 5s"),
            ],
        ));
        let events = [&rollout, &said, &moaned, &done].map(Event::Fleet);
        let (out, err) = screens(&events, false);
        assert_eq!(
            out,
            "a rbl | revision: 1\n\
             HOST  CONTAINER  IMAGE         UPDATE           VALIDATE  DURATION\n\
             a     rbl        0123456789ab  failed (exit 1)  skipped   1.50 s\n\
             b     -          -             unreachable: no answer within 5s\n\
             FAIL update: 0 ok, 1 failed, 0 skipped, 1 unreachable host (2.50 s)\n"
        );
        assert_eq!(err, "a rbl | slow\n");
    }

    #[test]
    fn one_container_is_its_output_and_a_verdict() {
        let rollout = FleetEvent::Rollout(crate::events::Rollout {
            hosts: vec!["a".into()],
            targets: 1,
        });
        let started = FleetEvent::MethodStarted(method_run("a", "UPDATE"));
        let said = output(Stream::Stdout, "revision: 1");
        let done = FleetEvent::Done(report(
            "update",
            vec![ran("a", MethodStatus::Passed, Some(MethodStatus::Passed))],
        ));
        let events = [&rollout, &started, &said, &done].map(Event::Fleet);
        let (out, err) = screens(&events, false);
        assert_eq!(
            out,
            "revision: 1\nPASS update: 1 ok, 0 failed, 0 skipped, 0 unreachable hosts (2.50 s)\n"
        );
        assert_eq!(err, ">>> UPDATE in rbl on a: /service/bin/update\n");
    }
}
