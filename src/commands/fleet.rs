//! One host or a fleet: the Docker engines a `validate` or `update` works on (`--host`,
//! `[fleet] hosts`, else `DOCKER_HOST`), the containers on each, and the rollout: hosts
//! `--batch` at a time, each container's method run in place, stopping an update at the
//! first failure, then a table of what happened where.
//!
//! The engines themselves are the distributed layer: nothing of devloop runs on the hosts.
//! Every host is connected at once with a short timeout, so an unreachable one is reported
//! within seconds; the others are still updated, and the exit status says so.

use std::time::{Duration, Instant};

use crate::config::{ConfigError, FleetSpec};
use crate::error::AppError;
use crate::events::{
    FleetEvent, FleetReport, FleetVerdict, MethodStatus, Rollout, RowState, TargetOutcome,
    TargetRow,
};
use crate::exit;
use crate::settings::{self, Settings};
pub(crate) mod lifecycle;

use crate::runtime::{self, Engine, RuntimeError};
use crate::signal::Cancel;
pub(crate) use lifecycle::Action;
use lifecycle::{Shared, Target, run_target};

use super::task::check_report_path;

/// The label devloop puts on its own ephemeral containers; `--all` leaves those alone.
const DEVLOOP_OWNER: &str = "devloop.owner";

/// Which containers to work on.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// One container, by name or ID, on every host.
    Named(String),
    /// Every running container that declares the method (and has these labels).
    All { labels: Vec<String> },
}

/// A `validate` or `update`, settled and ready to run.
pub(crate) struct LifecycleJob {
    pub action: Action,
    pub selection: Selection,
    pub hosts: Vec<String>,
    pub batch: usize,
    pub settings: Settings,
}

/// What the command line says about the targets.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetArgs {
    pub container: Option<String>,
    pub all: bool,
    pub labels: Vec<String>,
    pub hosts: Vec<String>,
    pub batch: Option<usize>,
}

/// Settles hosts, selection and batch size from the command line and `[fleet]`.
///
/// A `devloop.toml` is optional; its `[fleet]` gives the defaults.
pub(crate) fn prepare(
    settings: &Settings,
    action: Action,
    args: TargetArgs,
) -> Result<LifecycleJob, AppError> {
    check_report_path(settings)?;
    let config = match settings.load_config() {
        Ok(config) => Some(config),
        Err(AppError::Config(ConfigError::NotFound { .. })) => None,
        Err(e) => return Err(e),
    };
    let empty = FleetSpec::default();
    let fleet = config.as_ref().map_or(&empty, |c| &c.fleet);
    let mut hosts: Vec<String> = Vec::new();
    let wanted = if !args.hosts.is_empty() {
        args.hosts
    } else if !fleet.hosts.is_empty() {
        fleet.hosts.clone()
    } else {
        vec![runtime::default_host()]
    };
    for host in wanted {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let selection = if args.all {
        let labels = if args.labels.is_empty() {
            fleet.labels.clone()
        } else {
            args.labels
        };
        Selection::All { labels }
    } else {
        match args.container.or_else(|| fleet.container.clone()) {
            Some(name) => Selection::Named(name),
            None => {
                return Err(AppError::usage(
                    format!("{} which container?", action.word()),
                    Some(format!(
                        "devloop {} CONTAINER, devloop {} --all (every running container that declares {}), or [fleet] container = \"NAME\" in devloop.toml",
                        action.word(),
                        action.word(),
                        action.method()
                    )),
                ));
            }
        }
    };
    let batch = args.batch.or(fleet.batch).unwrap_or(1);
    if batch == 0 {
        return Err(AppError::usage("[fleet] batch must be at least 1", None));
    }
    Ok(LifecycleJob {
        action,
        selection,
        hosts,
        batch,
        settings: settings.clone(),
    })
}

/// What was found on one host.
enum HostState {
    Unreachable(RuntimeError),
    /// The named container is not there.
    Absent,
    Targets(Vec<Target>),
}

/// Connects every host at once; each answers within the connect timeout or is reported.
async fn connect_all(hosts: &[String]) -> Vec<Result<Engine, RuntimeError>> {
    futures_util::future::join_all(hosts.iter().map(|h| runtime::connect_endpoint(h))).await
}

async fn discover(
    job: &LifecycleJob,
    host: &str,
    engine: Engine,
) -> Result<HostState, RuntimeError> {
    match &job.selection {
        Selection::Named(name) => match runtime::container_facts(&engine, name).await? {
            None => Ok(HostState::Absent),
            Some(container) => Ok(HostState::Targets(vec![Target {
                host: host.to_owned(),
                engine,
                container,
            }])),
        },
        Selection::All { labels } => {
            let method = job.action.method();
            let containers = runtime::running_containers(&engine, labels).await?;
            let targets = containers
                .into_iter()
                .filter(|c| !c.labels.contains_key(DEVLOOP_OWNER))
                .map(|container| Target {
                    host: host.to_owned(),
                    engine: engine.clone(),
                    container,
                })
                .filter(|t| t.method(method).is_some())
                .collect();
            Ok(HostState::Targets(targets))
        }
    }
}

/// Runs the job and returns the exit code: 0 all passed, 1 a method failed, 2 the named
/// container declares no such method, 3 a host was unreachable or the container is
/// nowhere, 130/143 interrupted.
pub(crate) async fn execute(job: LifecycleJob, cancel: &Cancel) -> Result<i32, AppError> {
    let started = Instant::now();
    let method = job.action.method();
    let engines = cancel
        .guard(connect_all(&job.hosts))
        .await
        .map_err(AppError::Interrupted)?;
    let mut states: Vec<(String, HostState)> = Vec::new();
    for (host, engine) in job.hosts.iter().zip(engines) {
        let state = match engine {
            Err(e) => HostState::Unreachable(e),
            Ok(engine) => match discover(&job, host, engine).await {
                Ok(state) => state,
                Err(e) => HostState::Unreachable(e),
            },
        };
        states.push((host.clone(), state));
    }

    let single_host = job.hosts.len() == 1;
    // A single engine that cannot be reached, or a container that is not there: the
    // plain error, not a table.
    if single_host {
        match &states[0].1 {
            HostState::Unreachable(_) => {
                if let Some((_, HostState::Unreachable(e))) = states.pop() {
                    return Err(e.into());
                }
            }
            HostState::Absent => {
                if let Selection::Named(name) = &job.selection {
                    return Err(RuntimeError::NoSuchContainer {
                        name: name.clone(),
                        host: job.hosts[0].clone(),
                    }
                    .into());
                }
            }
            HostState::Targets(_) => {}
        }
    }
    let all_targets: Vec<&Target> = states
        .iter()
        .filter_map(|(_, s)| match s {
            HostState::Targets(t) => Some(t),
            _ => None,
        })
        .flatten()
        .collect();
    if let Selection::Named(name) = &job.selection {
        if all_targets.is_empty() && states.iter().all(|(_, s)| matches!(s, HostState::Absent)) {
            return Err(RuntimeError::NoSuchContainer {
                name: name.clone(),
                host: job.hosts.join(", "),
            }
            .into());
        }
        // Before anything runs anywhere: every container found must declare the method and
        // be running, or nothing is done.
        for target in &all_targets {
            if target.method(method).is_none() {
                return Err(AppError::usage(
                    format!(
                        "container {} on {} declares no {method} method",
                        target.container.name, target.host
                    ),
                    Some(format!(
                        "an image declares it as ENV {method}_METHOD=/path/to/script or LABEL devloop.method.{}=...; see devloop inspect {}",
                        method.to_lowercase(),
                        target.container.name
                    )),
                ));
            }
            if !target.container.running {
                return Err(RuntimeError::Api {
                    action: format!("{method} in {} on {}", target.container.name, target.host),
                    reason: format!("the container is {}, not running", target.container.status),
                }
                .into());
            }
        }
    }
    let reachable_targets = all_targets.len();
    if reachable_targets == 0 {
        let unreachable = states
            .iter()
            .any(|(_, s)| matches!(s, HostState::Unreachable(_)));
        if !unreachable {
            let labels = match &job.selection {
                Selection::All { labels } if !labels.is_empty() => {
                    format!(" with label {}", labels.join(", "))
                }
                _ => String::new(),
            };
            return Err(RuntimeError::Api {
                action: format!("finding containers that declare {method}"),
                reason: format!(
                    "no running container{labels} on {} declares {method} (ENV {method}_METHOD or LABEL devloop.method.{})",
                    job.hosts.join(", "),
                    method.to_lowercase()
                ),
            }
            .into());
        }
    }

    let reporters = Shared::new(job.settings.reporters());
    reporters.emit(FleetEvent::Rollout(Rollout {
        hosts: job.hosts.clone(),
        targets: reachable_targets,
    }));
    // Hosts with targets, in the order given, `batch` at a time.
    let with_targets: Vec<&(String, HostState)> = states
        .iter()
        .filter(|(_, s)| matches!(s, HostState::Targets(t) if !t.is_empty()))
        .collect();
    let mut outcomes: Vec<(String, Vec<TargetOutcome>)> = Vec::new();
    let mut stop = false;
    let mut interrupted = None;
    for batch in with_targets.chunks(job.batch) {
        if stop || interrupted.is_some() {
            break;
        }
        if with_targets.len() > job.batch {
            let hosts = batch.iter().map(|(host, _)| host.clone()).collect();
            reporters.emit(FleetEvent::Batch(hosts));
        }
        let work = futures_util::future::join_all(batch.iter().map(|(host, state)| {
            let reporters = &reporters;
            async move {
                let HostState::Targets(targets) = state else {
                    return (host.clone(), Vec::new());
                };
                let mut done = Vec::new();
                // One container after the other on a host: the host keeps serving.
                for target in targets {
                    let outcome = run_target(job.action, target, reporters).await;
                    let failed = outcome.failed();
                    done.push(outcome);
                    if failed && job.action == Action::Update {
                        break;
                    }
                }
                (host.clone(), done)
            }
        }));
        match cancel.guard(work).await {
            Ok(results) => {
                for (host, done) in results {
                    if done.iter().any(TargetOutcome::failed) && job.action == Action::Update {
                        stop = true;
                    }
                    outcomes.push((host, done));
                }
            }
            Err(signal) => interrupted = Some(signal),
        }
    }

    let report = FleetReport {
        action: job.action.word(),
        method,
        hosts: job.hosts.clone(),
        batch: job.batch,
        rows: table_rows(&states, &outcomes, interrupted.is_some()),
        duration: started.elapsed(),
        interrupted: interrupted.is_some(),
    };
    let verdict = report.verdict();
    reporters.emit(FleetEvent::Done(report));
    settings::finish(&mut reporters.into_inner())?;
    if let Some(signal) = interrupted {
        return Err(AppError::Interrupted(signal));
    }
    Ok(match verdict {
        FleetVerdict::Passed => exit::PASSED,
        FleetVerdict::Failed => exit::CHECK_FAILED,
        FleetVerdict::Incomplete => exit::ENVIRONMENT,
    })
}

fn unreachable_reason(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Unreachable { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn table_rows(
    states: &[(String, HostState)],
    outcomes: &[(String, Vec<TargetOutcome>)],
    interrupted: bool,
) -> Vec<TargetRow> {
    let mut rows = Vec::new();
    let nothing_here = |host: &str, state| TargetRow {
        host: host.to_owned(),
        container: "-".into(),
        image_id: "-".into(),
        state,
    };
    for (host, state) in states {
        match state {
            HostState::Unreachable(e) => {
                rows.push(nothing_here(
                    host,
                    RowState::Unreachable(unreachable_reason(e)),
                ));
            }
            HostState::Absent => rows.push(nothing_here(host, RowState::Absent)),
            HostState::Targets(targets) => {
                let done = outcomes
                    .iter()
                    .find(|(h, _)| h == host)
                    .map(|(_, d)| d.as_slice())
                    .unwrap_or(&[]);
                for (i, target) in targets.iter().enumerate() {
                    let not_run = if interrupted {
                        MethodStatus::Interrupted
                    } else {
                        MethodStatus::Skipped
                    };
                    let outcome = done.get(i).cloned().unwrap_or(TargetOutcome {
                        first: not_run.clone(),
                        validate: Some(not_run),
                        duration: Duration::ZERO,
                    });
                    rows.push(TargetRow {
                        host: host.clone(),
                        container: target.container.name.clone(),
                        image_id: target.container.image_id.clone(),
                        state: RowState::Ran(outcome),
                    });
                }
            }
        }
    }
    rows
}
