//! The one stream of events a run emits. Reporters listen; none of them knows how the run
//! works, and the run does not know who listens.

use std::time::Duration;

use crate::config::ContainerPort;

#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A task begins.
    Started {
        task: &'a str,
    },
    /// Slow preparation is under way (pulling, starting, waiting): spinner text.
    Phase {
        message: String,
    },
    /// The service answers; its ports are published on 127.0.0.1.
    ServiceReady {
        container: &'a str,
        ports: &'a [(ContainerPort, u16)],
        elapsed: Duration,
    },
    Check(&'a CheckOutcome),
    /// Something the user should know that is not a check (e.g. how to enter a kept
    /// container).
    Note {
        message: String,
    },
    Summary(&'a Summary),
}

/// The result of one check.
#[derive(Debug, Clone)]
pub(crate) struct CheckOutcome {
    pub task: String,
    pub name: String,
    pub passed: bool,
    pub duration: Duration,
    /// One line: on a pass what was seen, on a failure what was wrong.
    pub detail: String,
    /// What was asked, in the user's terms ("A sh8.mailingliststart.com.senderhost.bl.rbl").
    pub asked: String,
    /// What came back, in full (dig-like answer lines, command output).
    pub got: String,
    /// The command a user can paste to do the same by hand (`dig ...`, `docker exec ...`).
    pub command: String,
    /// The tail of the container's log, attached to failures.
    pub log_tail: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    Failed,
    /// The run could not be completed (engine, image, container).
    Error,
    Interrupted,
}

#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub task: String,
    pub verdict: Verdict,
    pub passed: usize,
    pub failed: usize,
    pub duration: Duration,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub error: Option<String>,
}

/// Something that turns events into output.
pub(crate) trait Reporter {
    fn report(&mut self, event: &Event<'_>);
    /// Called once at the end of the run, after the last event.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// All the reporters of a run, fed in order.
#[derive(Default)]
pub(crate) struct Reporters(Vec<Box<dyn Reporter + Send>>);

impl Reporters {
    pub(crate) fn add(&mut self, reporter: Box<dyn Reporter + Send>) {
        self.0.push(reporter);
    }

    pub(crate) fn emit(&mut self, event: Event<'_>) {
        for reporter in &mut self.0 {
            reporter.report(&event);
        }
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        for reporter in &mut self.0 {
            reporter.finish()?;
        }
        Ok(())
    }
}
