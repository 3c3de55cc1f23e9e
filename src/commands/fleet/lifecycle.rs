//! Lifecycle methods run in place: `validate` runs a container's VALIDATE method, `update`
//! its UPDATE method and then VALIDATE, through `docker exec`, with the output streamed as
//! it comes. The methods are whatever the container declares (`UPDATE_METHOD=...` in its
//! environment, or a `devloop.method.update` label): devloop brings nothing into it.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::events::{Event, FleetEvent, MethodRun, MethodStatus, Reporters, TargetOutcome};
use crate::metadata;
use crate::runtime::{self, ContainerFacts, Engine, Stream};

/// What `devloop validate` and `devloop update` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Validate,
    Update,
}

impl Action {
    /// The method that selects the containers (`--all`) and runs first.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Action::Validate => "VALIDATE",
            Action::Update => "UPDATE",
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Action::Validate => "validate",
            Action::Update => "update",
        }
    }
}

/// A container to run a method in, on one engine.
#[derive(Clone)]
pub(crate) struct Target {
    pub host: String,
    pub engine: Engine,
    pub container: ContainerFacts,
}

impl Target {
    pub(crate) fn method(&self, name: &str) -> Option<String> {
        metadata::method(&self.container.env, &self.container.labels, name)
    }
}

/// The reporters, shared by the containers whose methods run at once.
pub(crate) struct Shared(Mutex<Reporters>);

impl Shared {
    pub(crate) fn new(reporters: Reporters) -> Shared {
        Shared(Mutex::new(reporters))
    }

    pub(crate) fn emit(&self, event: FleetEvent) {
        // A reporter that panicked has left nothing half-written that matters here.
        let mut reporters = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        reporters.emit(Event::Fleet(&event));
    }

    pub(crate) fn into_inner(self) -> Reporters {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs one method in the target and reports it.
async fn run_method(target: &Target, method: &'static str, reporters: &Shared) -> MethodStatus {
    let Some(command) = target.method(method) else {
        return MethodStatus::Undeclared;
    };
    let started = Instant::now();
    let argv = runtime::method_argv(&command);
    let run = MethodRun {
        host: target.host.clone(),
        container: target.container.name.clone(),
        image_id: target.container.image_id.clone(),
        method,
        command,
    };
    reporters.emit(FleetEvent::MethodStarted(run.clone()));
    let mut on_line = |stream: Stream, line: &str| {
        reporters.emit(FleetEvent::Output {
            run: run.clone(),
            stream,
            line: line.to_owned(),
        });
    };
    let status =
        match runtime::exec_streaming(&target.engine, &target.container.id, &argv, &mut on_line)
            .await
        {
            Ok(0) => MethodStatus::Passed,
            Ok(code) => MethodStatus::Failed(code),
            Err(e) => MethodStatus::Error(e.to_string()),
        };
    reporters.emit(FleetEvent::MethodDone {
        run,
        status: status.clone(),
        duration: started.elapsed(),
    });
    status
}

/// `update`: UPDATE, then VALIDATE when UPDATE passed and VALIDATE is declared.
/// `validate`: VALIDATE.
pub(crate) async fn run_target(
    action: Action,
    target: &Target,
    reporters: &Shared,
) -> TargetOutcome {
    let started = Instant::now();
    let first = run_method(target, action.method(), reporters).await;
    let validate = match action {
        Action::Validate => None,
        Action::Update if first == MethodStatus::Passed => {
            Some(run_method(target, "VALIDATE", reporters).await)
        }
        Action::Update => Some(MethodStatus::Skipped),
    };
    TargetOutcome {
        first,
        validate,
        duration: started.elapsed(),
    }
}
