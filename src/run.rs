//! One run of a plan: start the service if a step needs it, run the steps, judge the
//! service's log, tear down, and report. Cancellation (a signal) is checked at
//! every wait, so a signal ends the run through the same teardown as a verdict.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checks::{self, Context};
use crate::config::{Config, MountMode, PullPolicy, Service};
use crate::construct;
use crate::error::AppError;
use crate::events::{CheckOutcome, Event, Reply, Reporters, Skip, Summary, Tallies, Verdict};
use crate::plan::{Action, Plan, PlannedStep};
use crate::runtime::{
    ContainerGuard, Engine, ImageInfo, LogBuffer, Owner, Registry, RuntimeError, ServiceSpec,
    ensure_image, sweep_leftovers,
};
use crate::signal::Cancel;

/// How the user asked the run to behave.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    pub keep: bool,
    pub fail_fast: bool,
    pub pull: Option<PullPolicy>,
}

/// What every part of a run shares: the project, how the user asked it to run, the
/// run's containers and its cancellation.
#[derive(Clone, Copy)]
pub(crate) struct Session<'a> {
    pub config: &'a Config,
    pub options: &'a RunOptions,
    pub registry: &'a Registry,
    pub cancel: &'a Cancel,
}

/// A started service and what it runs.
pub(crate) struct Running {
    pub guard: ContainerGuard,
    pub image: ImageInfo,
    pub engine: Engine,
    /// In watch mode, the followed log, and where the current round's part of it starts.
    pub log: Option<LogBuffer>,
    pub log_mark: usize,
}

impl Running {
    /// The log lines of the current round (the whole log in a one-shot run), or why they
    /// cannot be read.
    pub(crate) async fn round_log(&self) -> Result<Vec<String>, RuntimeError> {
        match &self.log {
            Some(buffer) => match buffer.broken() {
                None => Ok(buffer.since(self.log_mark)),
                Some(reason) => Err(RuntimeError::Api {
                    action: format!("following the log of {}", self.guard.name),
                    reason,
                }),
            },
            None => self.guard.read_log(None).await,
        }
    }
}

/// Starts the service of `config`: image by the pull policy, container, readiness.
pub(crate) async fn start_service(
    session: Session<'_>,
    service: &Service,
    task: &str,
    reporters: &mut Reporters,
) -> Result<Running, AppError> {
    let Session {
        config,
        options,
        registry,
        cancel,
    } = session;
    let started = Instant::now();
    let interrupted = AppError::Interrupted;
    reporters.emit(Event::Phase {
        message: "connecting to the Docker engine".into(),
    });
    let engine = cancel
        .guard(Engine::connect())
        .await
        .map_err(interrupted)??;
    // Leftovers of killed runs go while this run starts; the engine serves both at once.
    let sweep = tokio::spawn(sweep_leftovers(engine.clone()));
    let policy = options.pull.unwrap_or(service.pull);
    let image = cancel
        .guard(ensure_image(
            &engine,
            &service.image,
            policy,
            &mut |message| {
                reporters.emit(Event::Phase { message });
            },
        ))
        .await
        .map_err(interrupted)??;

    let owner = Owner::current();
    let spec = ServiceSpec {
        name: owner.container_name(&config.project),
        image: service.image.clone(),
        command: service.command.clone(),
        env: service
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        mount_source: config.root.clone(),
        mount_target: service.mount.clone(),
        read_only: service.mount_mode == MountMode::Ro,
        workdir: service.workdir.clone(),
        ports: service.ports.clone(),
        labels: owner.labels(&config.project, task, options.keep),
    };
    reporters.emit(Event::Phase {
        message: format!("starting {}", service.image),
    });
    // Creating and starting are not interrupted half-way: a container the engine creates
    // after we stopped listening would be left behind. They take a fraction of a second.
    let guard = ContainerGuard::start(&engine, registry, &spec).await?;
    if let Some(ready) = &service.ready {
        let ready = ready.get_ref();
        if let Some(probe) = ready.probe() {
            reporters.emit(Event::Phase {
                message: format!("waiting for {} to be ready", service.image),
            });
            match cancel
                .guard(guard.wait_ready(&probe, ready.timeout()))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = guard.remove().await;
                    return Err(e.into());
                }
                Err(signal) => {
                    let _ = guard.remove().await;
                    return Err(AppError::Interrupted(signal));
                }
            }
        }
    }
    if let Ok(Ok(swept)) = sweep.await {
        for leftover in swept {
            reporters.emit(Event::Note {
                message: format!(
                    "removed leftover container {} ({})",
                    leftover.name, leftover.why
                ),
            });
        }
    }
    reporters.emit(Event::ServiceReady {
        container: &guard.name,
        ports: &guard.ports,
        elapsed: started.elapsed(),
    });
    Ok(Running {
        guard,
        image,
        engine,
        log: None,
        log_mark: 0,
    })
}

/// Runs a plan to its verdict. The service starts at the first step that needs it, so a
/// stale `construct` or a failing host step stops the run before any container exists.
/// The container is removed on every path out, unless `--keep` asks to leave a failed
/// run's container up.
pub(crate) async fn run_plan(
    session: Session<'_>,
    plan: &Plan,
    reporters: &mut Reporters,
) -> Result<Verdict, AppError> {
    let options = session.options;
    let mut service = None;
    let round = run_round(session, plan, reporters, &mut service).await;
    let image = service.as_ref().map(|s: &Running| s.image.clone());
    if let Some(running) = service {
        if round.failed() && options.keep && round.error.is_none() {
            let name = running.guard.keep();
            reporters.emit(Event::Note {
                message: format!(
                    "kept container {name} for you: docker exec -it {name} sh   (remove it with devloop clean)"
                ),
            });
        } else {
            // A removal that fails stays in the registry, which tries again at the end
            // of the run and reports what it could not remove.
            let _ = running.guard.remove().await;
        }
    }
    finish_round(reporters, plan, round, image.as_ref())
}

/// One pass over a plan's steps, against `service` (started on first need, and left
/// running for the caller: `run_plan` removes it, `watch` keeps it warm).
pub(crate) struct Round {
    /// How each task's steps came out; every planned step is counted once.
    pub tallies: Tallies,
    /// How the service met each DNS check that ran.
    pub replies: Replies,
    pub error: Option<AppError>,
    started: Instant,
}

/// How the service met each DNS check of a round, by task and check name.
pub(crate) type Replies = BTreeMap<(String, String), Reply>;

impl Round {
    pub(crate) fn failed(&self) -> bool {
        self.tallies.total().failed > 0
    }
}

pub(crate) async fn run_round(
    session: Session<'_>,
    plan: &Plan,
    reporters: &mut Reporters,
    service: &mut Option<Running>,
) -> Round {
    let started = Instant::now();
    reporters.emit(Event::Started { task: &plan.task });
    let mut progress = Progress {
        tallies: Tallies::new(
            plan.steps
                .iter()
                .map(|s| s.task.as_str())
                .chain([plan.task.as_str()]),
        ),
        reported: 0,
        replies: Replies::new(),
    };
    let outcome = run_steps(session, plan, reporters, service, &mut progress).await;
    let stopped = match &outcome {
        Ok(None) => None,
        Ok(Some(stop)) => Some(stop.to_string()),
        Err(e) => Some(not_run(e)),
    };
    if let Some(reason) = &stopped {
        for step in &plan.steps[progress.reported..] {
            skip(
                reporters,
                &mut progress.tallies,
                &step.task,
                &step.name,
                reason,
            );
        }
    }
    let log_check = session
        .config
        .service
        .as_ref()
        .filter(|spec| !spec.fail_on_log.is_empty())
        .filter(|_| plan.steps.iter().any(|s| s.action.needs_service()));
    if let Some(spec) = log_check {
        match (&outcome, service.as_ref()) {
            (Ok(_), Some(running)) => {
                let check_started = Instant::now();
                let lines = running.round_log().await;
                let complaints = checks::log_complaints(&lines, &spec.fail_on_log);
                let check = checks::log_check(
                    &plan.task,
                    &running.guard.name,
                    complaints,
                    check_started.elapsed(),
                );
                record(reporters, &check, &mut progress);
            }
            _ => {
                let reason = stopped.as_deref().unwrap_or("the service did not run");
                skip(
                    reporters,
                    &mut progress.tallies,
                    &plan.task,
                    checks::LOG_CHECK,
                    reason,
                );
            }
        }
    }
    Round {
        tallies: progress.tallies,
        replies: progress.replies,
        // Checks against an engine that stopped answering fail; the run did not happen.
        error: outcome.err().or_else(|| {
            let fault = service.as_ref()?.engine.fault()?;
            Some(AppError::Runtime(fault.into()))
        }),
        started,
    }
}

/// Reports a round's summary and turns it into the verdict.
pub(crate) fn finish_round(
    reporters: &mut Reporters,
    plan: &Plan,
    round: Round,
    image: Option<&ImageInfo>,
) -> Result<Verdict, AppError> {
    summarize(
        reporters,
        plan,
        round.started,
        &round.tallies,
        image,
        round.error.as_ref(),
    );
    let failed = round.failed();
    match round.error {
        Some(e) => Err(e),
        None if failed => Ok(Verdict::Failed),
        None => Ok(Verdict::Passed),
    }
}

/// How far a round has come: what was counted, and how many of the plan's steps have been
/// reported (the rest did not run).
struct Progress {
    tallies: Tallies,
    reported: usize,
    replies: Replies,
}

/// Why the steps after some point did not run, though nothing went wrong.
enum Stop {
    /// A prerequisite's step failed: what follows depends on it.
    Prerequisite { task: String, step: String },
    /// A construct step failed: what follows would test stale outputs.
    Construct { step: String },
    /// `--fail-fast`: the first failure ends the run.
    FailFast { step: String },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Prerequisite { task, step } => {
                write!(f, "prerequisite {task} failed at `{step}`")
            }
            Stop::Construct { step } => write!(f, "`{step}` failed: the outputs are stale"),
            Stop::FailFast { step } => write!(f, "--fail-fast: `{step}` failed"),
        }
    }
}

/// Why steps did not run when the run itself failed: the error's first line.
fn not_run(error: &AppError) -> String {
    match error {
        AppError::Interrupted(signal) => format!("interrupted by {signal}"),
        e => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            format!("the run stopped: {first}")
        }
    }
}

/// Runs the plan's steps in order until the end or a stop; `Ok(Some(stop))` says why the
/// rest did not run. On an error the steps not yet reported did not run either.
async fn run_steps(
    session: Session<'_>,
    plan: &Plan,
    reporters: &mut Reporters,
    service: &mut Option<Running>,
    progress: &mut Progress,
) -> Result<Option<Stop>, AppError> {
    let Session {
        config,
        options,
        cancel,
        ..
    } = session;
    let steps = &plan.steps;
    while let Some(step) = steps.get(progress.reported) {
        if step.action.needs_service() && service.is_none() {
            let spec = config.service.as_ref().ok_or_else(|| {
                AppError::usage(format!("step `{}` needs a [service]", step.name), None)
            })?;
            *service = Some(start_service(session, spec, &plan.task, reporters).await?);
        }
        if let Action::Construct { write } = step.action {
            let outcome = construct_step(config, step, write)?;
            progress.reported += 1;
            if !record(reporters, &outcome, progress) {
                return Ok(Some(stop_after(step, options.fail_fast)));
            }
            continue;
        }
        let first = progress.reported;
        let batch = &steps[first..first + batch_len(&steps[first..], options.fail_fast)];
        let running = service.as_ref();
        let cx = Context {
            container: running.map(|s| &s.guard),
            image: running.map(|s| &s.image),
            root: &config.root,
        };
        let mut outcomes = cancel
            .guard(futures_util::future::join_all(
                batch.iter().map(|step| checks::run_step(step, &cx)),
            ))
            .await
            .map_err(AppError::Interrupted)?;
        // Failures of the service's checks show the tail of its log: read once a batch.
        if let Some(running) = service.as_ref() {
            let failed_checks: Vec<&mut CheckOutcome> = batch
                .iter()
                .zip(outcomes.iter_mut())
                .filter(|(step, outcome)| !outcome.passed && step.action.needs_service())
                .map(|(_, outcome)| outcome)
                .collect();
            if !failed_checks.is_empty() {
                let tail = running.guard.log_tail(checks::LOG_TAIL).await;
                for outcome in failed_checks {
                    outcome.log_tail.clone_from(&tail);
                }
            }
        }
        // Reported in the declared order, whatever order they finished in; all of the
        // batch, since it ran.
        let mut stop = None;
        for (step, outcome) in batch.iter().zip(&outcomes) {
            progress.reported += 1;
            let passed_now = record(reporters, outcome, progress);
            // After a failed prerequisite or a stale construct, what follows would test
            // something other than what the user has: stop.
            if !passed_now && stop.is_none() && (step.gate || options.fail_fast) {
                stop = Some(stop_after(step, options.fail_fast));
            }
        }
        if stop.is_some() {
            return Ok(stop);
        }
    }
    Ok(None)
}

/// Why a failed step stops the run.
fn stop_after(step: &PlannedStep, fail_fast: bool) -> Stop {
    let name = step.name.clone();
    match step.action {
        _ if fail_fast && !step.gate => Stop::FailFast { step: name },
        Action::Construct { .. } => Stop::Construct { step: name },
        _ => Stop::Prerequisite {
            task: step.task.clone(),
            step: name,
        },
    }
}

/// Counts and reports one outcome; whether it passed.
fn record(reporters: &mut Reporters, outcome: &CheckOutcome, progress: &mut Progress) -> bool {
    if outcome.passed {
        progress.tallies.passed(&outcome.task);
    } else {
        progress.tallies.failed(&outcome.task);
    }
    if let Some(reply) = outcome.reply {
        progress
            .replies
            .insert((outcome.task.clone(), outcome.name.clone()), reply);
    }
    reporters.emit(Event::Check(outcome));
    outcome.passed
}

/// Counts and reports a step that did not run.
fn skip(reporters: &mut Reporters, tallies: &mut Tallies, task: &str, name: &str, reason: &str) {
    tallies.skipped(task);
    reporters.emit(Event::Skipped(&Skip {
        task: task.to_owned(),
        name: name.to_owned(),
        reason: reason.to_owned(),
    }));
}

/// How many steps from the start of `steps` run at once: consecutive checks of the
/// service (DNS, exec, method) of one task are independent of each other, so they run
/// concurrently; host commands and construct steps may change things and run alone.
fn batch_len(steps: &[PlannedStep], fail_fast: bool) -> usize {
    let Some(first) = steps.first() else {
        return 0;
    };
    let is_check = |s: &PlannedStep| {
        matches!(
            s.action,
            Action::Dns(_) | Action::Exec(_) | Action::Method { .. }
        )
    };
    if fail_fast || !is_check(first) {
        return 1;
    }
    steps
        .iter()
        .take_while(|s| is_check(s) && s.task == first.task && s.gate == first.gate)
        .count()
}

/// A `construct` step: renders the outputs; with `write`, writes those that changed,
/// else fails when any is out of date. A broken template or scope is a config error.
fn construct_step(
    config: &Config,
    step: &PlannedStep,
    write: bool,
) -> Result<CheckOutcome, AppError> {
    let started = Instant::now();
    let spec = config
        .construct
        .as_ref()
        .ok_or_else(|| AppError::usage("a construct step needs a [construct] table", None))?;
    let rendered = construct::render(&config.root, spec)?;
    let stale: Vec<&str> = rendered
        .iter()
        .filter(|r| r.changed())
        .map(|r| r.output.as_str())
        .collect();
    let (passed, detail) = match (write, stale.is_empty()) {
        (_, true) => (true, "every output is up to date".to_owned()),
        (true, false) => {
            construct::write(&config.root, &rendered)?;
            (true, format!("wrote {}", stale.join(", ")))
        }
        (false, false) => (
            false,
            format!("out of date: {} (run devloop construct)", stale.join(", ")),
        ),
    };
    Ok(CheckOutcome {
        task: step.task.clone(),
        name: step.name.clone(),
        passed,
        duration: started.elapsed(),
        detail,
        asked: format!("render the outputs from {}", spec.scope.files().join(", ")),
        got: construct::diff_stat(&rendered).trim_end().to_owned(),
        command: if write {
            "devloop construct"
        } else {
            "devloop construct --diff"
        }
        .to_owned(),
        log_tail: Vec::new(),
        reply: None,
    })
}

fn summarize(
    reporters: &mut Reporters,
    plan: &Plan,
    started: Instant,
    tallies: &Tallies,
    image: Option<&ImageInfo>,
    error: Option<&AppError>,
) {
    let counts = tallies.total();
    let verdict = match error {
        Some(AppError::Interrupted(_)) => Verdict::Interrupted,
        Some(_) => Verdict::Error,
        None if counts.failed > 0 => Verdict::Failed,
        None => Verdict::Passed,
    };
    let summary = Summary {
        task: plan.task.clone(),
        verdict,
        counts,
        tasks: tallies.clone(),
        duration: started.elapsed(),
        image: image.map(|i| i.name.clone()),
        image_id: image.map(|i| i.id.clone()),
        error: error.map(ToString::to_string),
    };
    reporters.emit(Event::Summary(&summary));
}
