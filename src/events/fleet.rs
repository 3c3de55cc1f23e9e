//! What `validate` and `update` tell as they roll over one host or a fleet: the rollout
//! and each batch of hosts beginning, each method started, its output line by line and
//! how it ended, then every container's outcome and the tally.

use std::time::Duration;

use crate::runtime::Stream;

#[derive(Debug, Clone)]
pub(crate) enum FleetEvent {
    /// Every container found declares the method: the methods are about to run.
    Rollout(Rollout),
    /// These hosts are worked on now (`--batch` at a time).
    Batch(Vec<String>),
    MethodStarted(MethodRun),
    /// A line a method wrote.
    Output {
        run: MethodRun,
        stream: Stream,
        line: String,
    },
    MethodDone {
        run: MethodRun,
        status: MethodStatus,
        duration: Duration,
    },
    /// Everything that ran, or was skipped, unreachable or interrupted.
    Done(FleetReport),
}

#[derive(Debug, Clone)]
pub(crate) struct Rollout {
    pub hosts: Vec<String>,
    /// The containers the methods run in, on the hosts that answered.
    pub targets: usize,
}

impl Rollout {
    /// More than one container, or more than one host: whose is what must be said.
    pub(crate) fn several(&self) -> bool {
        self.hosts.len() > 1 || self.targets > 1
    }
}

/// One method, in one container.
#[derive(Debug, Clone)]
pub(crate) struct MethodRun {
    pub host: String,
    pub container: String,
    pub image_id: String,
    /// `VALIDATE`, `UPDATE`.
    pub method: &'static str,
    pub command: String,
}

/// How one method run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MethodStatus {
    Passed,
    /// It ran and exited non-zero.
    Failed(i64),
    /// The engine could not run it (the container stopped, the exec failed).
    Error(String),
    /// The container declares no such method (for VALIDATE after UPDATE: nothing to run).
    Undeclared,
    /// Not run: an earlier batch failed, or the method before it failed.
    Skipped,
    Interrupted,
}

impl MethodStatus {
    pub(crate) fn failed(&self) -> bool {
        matches!(
            self,
            MethodStatus::Failed(_) | MethodStatus::Error(_) | MethodStatus::Interrupted
        )
    }

    /// One word or two, for the summary table and JSON.
    pub(crate) fn describe(&self) -> String {
        match self {
            MethodStatus::Passed => "ok".into(),
            MethodStatus::Failed(code) => format!("failed (exit {code})"),
            MethodStatus::Error(reason) => format!("error: {reason}"),
            MethodStatus::Undeclared => "none declared".into(),
            MethodStatus::Skipped => "skipped".into(),
            MethodStatus::Interrupted => "interrupted".into(),
        }
    }

    pub(crate) fn word(&self) -> &'static str {
        match self {
            MethodStatus::Passed => "pass",
            MethodStatus::Failed(_) => "fail",
            MethodStatus::Error(_) => "error",
            MethodStatus::Undeclared => "none",
            MethodStatus::Skipped => "skipped",
            MethodStatus::Interrupted => "interrupted",
        }
    }

    /// The method's exit code, when it ran to one.
    pub(crate) fn exit_code(&self) -> Option<i64> {
        match self {
            MethodStatus::Passed => Some(0),
            MethodStatus::Failed(code) => Some(*code),
            _ => None,
        }
    }
}

/// How a container fared: the first method (UPDATE or VALIDATE), then VALIDATE after an
/// UPDATE.
#[derive(Debug, Clone)]
pub(crate) struct TargetOutcome {
    pub first: MethodStatus,
    pub validate: Option<MethodStatus>,
    pub duration: Duration,
}

impl TargetOutcome {
    pub(crate) fn failed(&self) -> bool {
        self.first.failed() || self.validate.as_ref().is_some_and(MethodStatus::failed)
    }
}

/// One row of the rollout's table: a container, or a host with none to show.
#[derive(Debug, Clone)]
pub(crate) struct TargetRow {
    pub host: String,
    /// `-` on a host without one.
    pub container: String,
    /// The ID of the image it runs, `-` on a host without a container.
    pub image_id: String,
    pub state: RowState,
}

#[derive(Debug, Clone)]
pub(crate) enum RowState {
    Ran(TargetOutcome),
    /// The engine did not answer, for this reason.
    Unreachable(String),
    /// The named container is not on this host.
    Absent,
}

impl TargetRow {
    pub(crate) fn outcome(&self) -> Option<&TargetOutcome> {
        match &self.state {
            RowState::Ran(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// What happened here in a few words: how the first method ended, or why nothing ran.
    pub(crate) fn describe(&self) -> String {
        match &self.state {
            RowState::Ran(outcome) => outcome.first.describe(),
            RowState::Unreachable(reason) => format!("unreachable: {reason}"),
            RowState::Absent => "absent: no such container on this host".into(),
        }
    }
}

/// The whole rollout.
#[derive(Debug, Clone)]
pub(crate) struct FleetReport {
    /// `validate` or `update`.
    pub action: &'static str,
    /// The method that runs first.
    pub method: &'static str,
    pub hosts: Vec<String>,
    pub batch: usize,
    pub rows: Vec<TargetRow>,
    pub duration: Duration,
    /// A signal stopped it: there is no verdict.
    pub interrupted: bool,
}

/// A rollout's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FleetVerdict {
    Passed,
    /// A method failed somewhere.
    Failed,
    /// Nothing failed, but a host could not be reached.
    Incomplete,
}

impl FleetReport {
    fn count(&self, what: impl Fn(&TargetRow) -> bool) -> usize {
        self.rows.iter().filter(|row| what(row)).count()
    }

    /// The containers whose methods all passed.
    pub(crate) fn ok(&self) -> usize {
        self.count(|r| {
            r.outcome()
                .is_some_and(|o| !o.failed() && o.first == MethodStatus::Passed)
        })
    }

    pub(crate) fn failed(&self) -> usize {
        self.count(|r| r.outcome().is_some_and(TargetOutcome::failed))
    }

    pub(crate) fn skipped(&self) -> usize {
        self.count(|r| {
            r.outcome()
                .is_some_and(|o| o.first == MethodStatus::Skipped)
        })
    }

    pub(crate) fn unreachable(&self) -> usize {
        self.count(|r| matches!(r.state, RowState::Unreachable(_)))
    }

    pub(crate) fn verdict(&self) -> FleetVerdict {
        if self.failed() > 0 {
            FleetVerdict::Failed
        } else if self.unreachable() > 0 {
            FleetVerdict::Incomplete
        } else {
            FleetVerdict::Passed
        }
    }
}

/// Rows, runs and rollouts as the reporters' tests need them.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A method run in container `rbl` on `host`.
    pub(crate) fn method_run(host: &str, method: &'static str) -> MethodRun {
        MethodRun {
            host: host.into(),
            container: "rbl".into(),
            image_id: "sha256:0123456789abcdef".into(),
            method,
            command: format!("/service/bin/{}", method.to_lowercase()),
        }
    }

    /// Container `rbl` on `host`, its methods run in 1.5 s.
    pub(crate) fn ran(
        host: &str,
        first: MethodStatus,
        validate: Option<MethodStatus>,
    ) -> TargetRow {
        TargetRow {
            host: host.into(),
            container: "rbl".into(),
            image_id: "sha256:0123456789abcdef".into(),
            state: RowState::Ran(TargetOutcome {
                first,
                validate,
                duration: Duration::from_millis(1500),
            }),
        }
    }

    pub(crate) fn unreachable(host: &str, reason: &str) -> TargetRow {
        TargetRow {
            host: host.into(),
            container: "-".into(),
            image_id: "-".into(),
            state: RowState::Unreachable(reason.into()),
        }
    }

    /// A rollout of 2.5 s, one host at a time, over the rows' hosts.
    pub(crate) fn report(action: &'static str, rows: Vec<TargetRow>) -> FleetReport {
        FleetReport {
            action,
            method: if action == "update" {
                "UPDATE"
            } else {
                "VALIDATE"
            },
            hosts: rows.iter().map(|r| r.host.clone()).collect(),
            batch: 1,
            rows,
            duration: Duration::from_millis(2500),
            interrupted: false,
        }
    }
}
