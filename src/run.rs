//! One run of a plan: start the service if a step needs it, run the steps, judge the
//! service's log, tear down, and report. Cancellation (SIGINT, SIGTERM) is checked at
//! every wait, so a signal ends the run through the same teardown as a verdict.

use std::future::Future;
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::watch;

use crate::checks::{self, Context};
use crate::config::{Config, MountMode, PullPolicy, Service};
use crate::error::{AppError, Signal};
use crate::events::{Event, Reporters, Summary, Verdict};
use crate::plan::Plan;
use crate::runtime::{
    ContainerGuard, Engine, ImageInfo, Owner, Registry, ServiceSpec, ensure_image, sweep_leftovers,
};

/// Tells a run that it should stop, and why.
#[derive(Clone)]
pub(crate) struct Cancel(watch::Receiver<Option<Signal>>);

impl Cancel {
    pub(crate) fn new() -> (watch::Sender<Option<Signal>>, Cancel) {
        let (tx, rx) = watch::channel(None);
        (tx, Cancel(rx))
    }

    async fn cancelled(&mut self) -> Signal {
        loop {
            if let Some(signal) = *self.0.borrow_and_update() {
                return signal;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs `work` unless and until the run is cancelled.
    pub(crate) async fn guard<F: Future>(&self, work: F) -> Result<F::Output, Signal> {
        let mut cancel = self.clone();
        tokio::select! {
            biased;
            signal = cancel.cancelled() => Err(signal),
            value = work => Ok(value),
        }
    }
}

/// How the user asked the run to behave.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    pub keep: bool,
    pub fail_fast: bool,
    pub pull: Option<PullPolicy>,
    /// What to mount instead of the project root (the staged tree of a pre-commit hook).
    pub mount_source: Option<PathBuf>,
}

/// A started service and what it runs.
pub(crate) struct Running {
    pub guard: ContainerGuard,
    pub image: ImageInfo,
    pub engine: Engine,
}

/// Starts the service of `config`: image by the pull policy, container, readiness.
pub(crate) async fn start_service(
    config: &Config,
    service: &Service,
    task: &str,
    options: &RunOptions,
    reporters: &mut Reporters,
    registry: &Registry,
    cancel: &Cancel,
) -> Result<Running, AppError> {
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
        mount_source: options
            .mount_source
            .clone()
            .unwrap_or_else(|| config.root.clone()),
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
    })
}

/// Runs a plan to its verdict. The container is removed on every path out, unless
/// `--keep` asks to leave a failed run's container up.
pub(crate) async fn run_plan(
    config: &Config,
    plan: &Plan,
    options: &RunOptions,
    reporters: &mut Reporters,
    registry: &Registry,
    cancel: &Cancel,
) -> Result<Verdict, AppError> {
    let started = Instant::now();
    reporters.emit(Event::Started { task: &plan.task });
    let service = match (&config.service, plan.needs_service()) {
        (Some(service), true) => {
            match start_service(
                config, service, &plan.task, options, reporters, registry, cancel,
            )
            .await
            {
                Ok(running) => Some(running),
                Err(e) => {
                    summarize(reporters, plan, started, (0, 0), None, Some(&e));
                    return Err(e);
                }
            }
        }
        _ => None,
    };

    let outcome = run_steps(config, plan, options, reporters, service.as_ref(), cancel).await;
    let (passed, failed) = match &outcome {
        Ok(counts) => *counts,
        Err((counts, _)) => *counts,
    };

    let mut error = outcome.err().map(|(_, e)| e);
    if let Some(running) = service {
        let image = running.image.clone();
        if failed > 0 && options.keep && error.is_none() {
            let name = running.guard.keep();
            reporters.emit(Event::Note {
                message: format!(
                    "kept container {name} for you: docker exec -it {name} sh   (remove it with devloop clean)"
                ),
            });
        } else if let Err(e) = running.guard.remove().await {
            error.get_or_insert(e.into());
        }
        summarize(
            reporters,
            plan,
            started,
            (passed, failed),
            Some(&image),
            error.as_ref(),
        );
    } else {
        summarize(
            reporters,
            plan,
            started,
            (passed, failed),
            None,
            error.as_ref(),
        );
    }
    match error {
        Some(e) => Err(e),
        None if failed > 0 => Ok(Verdict::Failed),
        None => Ok(Verdict::Passed),
    }
}

type Counts = (usize, usize);

async fn run_steps(
    config: &Config,
    plan: &Plan,
    options: &RunOptions,
    reporters: &mut Reporters,
    service: Option<&Running>,
    cancel: &Cancel,
) -> Result<Counts, (Counts, AppError)> {
    let cx = Context {
        container: service.map(|s| &s.guard),
        image: service.map(|s| &s.image),
        root: &config.root,
    };
    let (mut passed, mut failed) = (0, 0);
    let mut failed_prerequisite = None;
    for step in &plan.steps {
        if let Some(task) = &failed_prerequisite {
            if step.task != *task {
                // A prerequisite failed: what depends on it cannot be trusted to run.
                break;
            }
        }
        let outcome = match cancel.guard(checks::run_step(step, &cx)).await {
            Ok(outcome) => outcome,
            Err(signal) => return Err(((passed, failed), AppError::Interrupted(signal))),
        };
        if outcome.passed {
            passed += 1;
        } else {
            failed += 1;
            if step.prerequisite {
                failed_prerequisite = Some(step.task.clone());
            }
        }
        reporters.emit(Event::Check(&outcome));
        if !outcome.passed && options.fail_fast {
            break;
        }
    }
    if let (Some(running), Some(service)) = (service, &config.service) {
        if !service.fail_on_log.is_empty() {
            let started = Instant::now();
            let lines = running.guard.logs(None).await;
            let complaints = checks::log_complaints(&lines, &service.fail_on_log);
            let check = checks::log_check(
                &plan.task,
                &running.guard.name,
                complaints,
                started.elapsed(),
            );
            if check.passed {
                passed += 1;
            } else {
                failed += 1;
            }
            reporters.emit(Event::Check(&check));
        }
    }
    Ok((passed, failed))
}

fn summarize(
    reporters: &mut Reporters,
    plan: &Plan,
    started: Instant,
    (passed, failed): Counts,
    image: Option<&ImageInfo>,
    error: Option<&AppError>,
) {
    let verdict = match error {
        Some(AppError::Interrupted(_)) => Verdict::Interrupted,
        Some(_) => Verdict::Error,
        None if failed > 0 => Verdict::Failed,
        None => Verdict::Passed,
    };
    let summary = Summary {
        task: plan.task.clone(),
        verdict,
        passed,
        failed,
        duration: started.elapsed(),
        image: image.map(|i| i.name.clone()),
        image_id: image.map(|i| i.id.clone()),
        error: error.map(ToString::to_string),
    };
    reporters.emit(Event::Summary(&summary));
}
