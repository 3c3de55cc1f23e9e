//! The one stream of events every command emits: a task run's here, the other commands'
//! by family (`project`, `image`, `fleet`). Reporters listen; none of them knows how a
//! command works, and no command knows who listens.

use std::time::Duration;

use crate::config::ContainerPort;

mod fleet;
mod image;
mod project;

#[cfg(test)]
pub(crate) use fleet::fixtures as fleet_fixtures;
pub(crate) use fleet::{
    FleetEvent, FleetReport, FleetVerdict, MethodRun, MethodStatus, Rollout, RowState,
    TargetOutcome, TargetRow,
};
pub(crate) use image::{BuildLine, Built, ContainerView, ImageEvent, ImageView, Inspection};
pub(crate) use project::{
    ConstructMode, Construction, HookInstalled, HookRemoved, Initialized, ProjectEvent, TaskEntry,
};

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
    /// A planned step that did not run (a prerequisite failed, `--fail-fast`, the run
    /// stopped): reported, so that a failing run shows as many steps as a passing one.
    Skipped(&'a Skip),
    /// Something the user should know that is not a check (e.g. how to enter a kept
    /// container).
    Note {
        message: String,
    },
    Summary(&'a Summary),
    /// `watch` begins a round: on a fresh screen unless `clear` is off, a header with the
    /// task, the local time (HH:MM:SS) and what triggered it.
    Round {
        task: &'a str,
        time: &'a str,
        trigger: &'a str,
        clear: bool,
    },
    /// The commands other than task runs: listings, files written, containers removed.
    Project(&'a ProjectEvent),
    /// `build` and `inspect`.
    Image(&'a ImageEvent),
    /// `validate` and `update`, on one host or a fleet.
    Fleet(&'a FleetEvent),
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
    /// For a DNS check, how the service met the question, whatever the check expected.
    pub reply: Option<Reply>,
}

/// How the service met a DNS question. A daemon that answered a name before a reload and
/// fails it after has not loaded the change cleanly, whatever the check expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// An answer it stands by: records, no data, NXDOMAIN.
    Answered,
    /// SERVFAIL or REFUSED: it would not answer for the name.
    Refused,
    /// No response in time.
    Silent,
}

impl Reply {
    pub(crate) fn from_rcode(rcode: &str) -> Reply {
        match rcode {
            "SERVFAIL" | "REFUSED" => Reply::Refused,
            _ => Reply::Answered,
        }
    }
}

/// A planned step that did not run, and why.
#[derive(Debug, Clone)]
pub(crate) struct Skip {
    pub task: String,
    pub name: String,
    /// One line, in the operator's terms: "prerequisite test:lists failed at `bl RFC 5782`".
    pub reason: String,
}

/// How the steps of a run (or of one of its tasks) came out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Tally {
    pub(crate) fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }
}

/// The tally of each task of a run, in the order the tasks ran (prerequisites first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tallies(Vec<(String, Tally)>);

impl Tallies {
    /// Every task of the plan at zero, so a task none of whose steps ran is still shown.
    pub(crate) fn new<'a>(tasks: impl IntoIterator<Item = &'a str>) -> Tallies {
        let mut tallies = Tallies::default();
        for task in tasks {
            tallies.get(task);
        }
        tallies
    }

    fn get(&mut self, task: &str) -> &mut Tally {
        let at = match self.0.iter().position(|(t, _)| t == task) {
            Some(at) => at,
            None => {
                self.0.push((task.to_owned(), Tally::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }

    pub(crate) fn passed(&mut self, task: &str) {
        self.get(task).passed += 1;
    }

    pub(crate) fn failed(&mut self, task: &str) {
        self.get(task).failed += 1;
    }

    pub(crate) fn skipped(&mut self, task: &str) {
        self.get(task).skipped += 1;
    }

    /// The whole run's tally.
    pub(crate) fn total(&self) -> Tally {
        self.0.iter().fold(Tally::default(), |sum, (_, t)| Tally {
            passed: sum.passed + t.passed,
            failed: sum.failed + t.failed,
            skipped: sum.skipped + t.skipped,
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Tally)> {
        self.0.iter().map(|(task, tally)| (task.as_str(), tally))
    }
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
    /// The whole run: every task's steps, prerequisites included.
    pub counts: Tally,
    /// Each task's share of `counts`, prerequisites first.
    pub tasks: Tallies,
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
pub(crate) struct Reporters {
    sinks: Vec<Box<dyn Reporter + Send>>,
    /// While held, events wait here instead of reaching the reporters.
    held: Option<Vec<Held>>,
}

impl Reporters {
    pub(crate) fn add(&mut self, reporter: Box<dyn Reporter + Send>) {
        self.sinks.push(reporter);
    }

    pub(crate) fn emit(&mut self, event: Event<'_>) {
        if let Some(held) = &mut self.held {
            held.push(Held::from(&event));
            return;
        }
        for reporter in &mut self.sinks {
            reporter.report(&event);
        }
    }

    /// Keeps the events back from here on, until they are released or discarded: for a
    /// round whose verdict can be trusted only once it is over (watch, after a reload).
    pub(crate) fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Reports the events held back, in order, and stops holding.
    pub(crate) fn release(&mut self) {
        for event in self.held.take().unwrap_or_default() {
            self.emit(event.as_event());
        }
    }

    /// Drops the events held back, and stops holding.
    pub(crate) fn discard(&mut self) {
        self.held = None;
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        self.release();
        for reporter in &mut self.sinks {
            reporter.finish()?;
        }
        Ok(())
    }
}

/// An event kept back, owning what it refers to.
enum Held {
    Started(String),
    Phase(String),
    ServiceReady {
        container: String,
        ports: Vec<(ContainerPort, u16)>,
        elapsed: Duration,
    },
    Check(CheckOutcome),
    Skipped(Skip),
    Note(String),
    Summary(Summary),
    Round {
        task: String,
        time: String,
        trigger: String,
        clear: bool,
    },
    Project(ProjectEvent),
    Image(ImageEvent),
    Fleet(FleetEvent),
}

impl Held {
    fn from(event: &Event<'_>) -> Held {
        match event {
            Event::Started { task } => Held::Started((*task).to_owned()),
            Event::Phase { message } => Held::Phase(message.clone()),
            Event::ServiceReady {
                container,
                ports,
                elapsed,
            } => Held::ServiceReady {
                container: (*container).to_owned(),
                ports: ports.to_vec(),
                elapsed: *elapsed,
            },
            Event::Check(check) => Held::Check((*check).clone()),
            Event::Skipped(skip) => Held::Skipped((*skip).clone()),
            Event::Note { message } => Held::Note(message.clone()),
            Event::Summary(summary) => Held::Summary((*summary).clone()),
            Event::Round {
                task,
                time,
                trigger,
                clear,
            } => Held::Round {
                task: (*task).to_owned(),
                time: (*time).to_owned(),
                trigger: (*trigger).to_owned(),
                clear: *clear,
            },
            Event::Project(event) => Held::Project((*event).clone()),
            Event::Image(event) => Held::Image((*event).clone()),
            Event::Fleet(event) => Held::Fleet((*event).clone()),
        }
    }

    fn as_event(&self) -> Event<'_> {
        match self {
            Held::Started(task) => Event::Started { task },
            Held::Phase(message) => Event::Phase {
                message: message.clone(),
            },
            Held::ServiceReady {
                container,
                ports,
                elapsed,
            } => Event::ServiceReady {
                container,
                ports,
                elapsed: *elapsed,
            },
            Held::Check(check) => Event::Check(check),
            Held::Skipped(skip) => Event::Skipped(skip),
            Held::Note(message) => Event::Note {
                message: message.clone(),
            },
            Held::Summary(summary) => Event::Summary(summary),
            Held::Round {
                task,
                time,
                trigger,
                clear,
            } => Event::Round {
                task,
                time,
                trigger,
                clear: *clear,
            },
            Held::Project(event) => Event::Project(event),
            Held::Image(event) => Event::Image(event),
            Held::Fleet(event) => Event::Fleet(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Remembers the kind and subject of every event it is given.
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Reporter for Log {
        fn report(&mut self, event: &Event<'_>) {
            let line = match event {
                Event::Started { task } => format!("start {task}"),
                Event::Check(check) => format!("check {}", check.name),
                Event::Note { message } => format!("note {message}"),
                other => format!("{other:?}"),
            };
            self.0.lock().expect("log").push(line);
        }
    }

    fn check(name: &str) -> CheckOutcome {
        CheckOutcome {
            task: "t".into(),
            name: name.into(),
            passed: true,
            duration: Duration::ZERO,
            detail: String::new(),
            asked: String::new(),
            got: String::new(),
            command: String::new(),
            log_tail: Vec::new(),
            reply: Some(Reply::Answered),
        }
    }

    #[test]
    fn held_events_reach_the_reporters_in_order_when_released_and_never_when_discarded() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reporters = Reporters::default();
        reporters.add(Box::new(Log(Arc::clone(&seen))));
        reporters.emit(Event::Started { task: "t" });
        reporters.hold();
        reporters.emit(Event::Check(&check("a")));
        reporters.emit(Event::Check(&check("b")));
        assert_eq!(seen.lock().expect("log").len(), 1, "held back");
        reporters.release();
        reporters.hold();
        reporters.emit(Event::Check(&check("untrusted")));
        reporters.discard();
        reporters.emit(Event::Note {
            message: "rerun".into(),
        });
        assert_eq!(
            *seen.lock().expect("log"),
            ["start t", "check a", "check b", "note rerun"]
        );
    }
}
