//! Lifecycle methods run in place: `validate` runs a container's VALIDATE method, `update`
//! its UPDATE method and then VALIDATE, through `docker exec`, with the output streamed as
//! it comes. The methods are whatever the container declares (`UPDATE_METHOD=...` in its
//! environment, or a `devloop.method.update` label): devloop brings nothing into it.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// How a target fared: the first method (UPDATE or VALIDATE), then VALIDATE after an
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

/// Where output goes: lines of methods as they come (prefixed with host and container when
/// several run), verdicts, and JSON Lines events in `--format json`.
pub(crate) struct Printer {
    pub json: bool,
    /// Prefix each output line with `host container |`.
    pub prefix: bool,
    lock: Mutex<()>,
}

impl Printer {
    pub(crate) fn new(json: bool, prefix: bool) -> Printer {
        Printer {
            json,
            prefix,
            lock: Mutex::new(()),
        }
    }

    /// A JSON Lines event (only in JSON mode).
    pub(crate) fn event(&self, value: &serde_json::Value) {
        if self.json {
            let _guard = self.lock.lock();
            let _ = writeln!(std::io::stdout().lock(), "{value}");
        }
    }

    fn output(&self, target: &Target, method: &str, stream: Stream, line: &str) {
        let _guard = self.lock.lock();
        if self.json {
            let value = serde_json::json!({
                "event": "output", "host": target.host, "container": target.container.name,
                "method": method,
                "stream": if stream == Stream::Stderr { "stderr" } else { "stdout" },
                "line": line,
            });
            let _ = writeln!(std::io::stdout().lock(), "{value}");
            return;
        }
        let prefix = if self.prefix {
            format!(
                "{} ",
                console::style(format!("{} {} |", target.host, target.container.name)).dim()
            )
        } else {
            String::new()
        };
        match stream {
            Stream::Stdout => {
                let _ = writeln!(std::io::stdout().lock(), "{prefix}{line}");
            }
            Stream::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{prefix}{line}");
            }
        }
    }

    /// A human line on stderr (progress: which method starts where).
    pub(crate) fn note(&self, text: &str) {
        if !self.json {
            let _guard = self.lock.lock();
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// A human line on stdout (verdicts, the summary table).
    pub(crate) fn say(&self, text: &str) {
        if !self.json {
            let _guard = self.lock.lock();
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }
}

/// Runs one method in the target and reports it.
async fn run_method(target: &Target, method: &str, printer: &Printer) -> MethodStatus {
    let Some(command) = target.method(method) else {
        return MethodStatus::Undeclared;
    };
    let started = Instant::now();
    printer.note(&format!(
        "{} {method} in {} on {}: {command}",
        console::style(">>>").cyan(),
        target.container.name,
        target.host
    ));
    let argv = runtime::method_argv(&command);
    let mut on_line = |stream: Stream, line: &str| printer.output(target, method, stream, line);
    let status =
        match runtime::exec_streaming(&target.engine, &target.container.id, &argv, &mut on_line)
            .await
        {
            Ok(0) => MethodStatus::Passed,
            Ok(code) => MethodStatus::Failed(code),
            Err(e) => MethodStatus::Error(e.to_string()),
        };
    let elapsed = started.elapsed();
    printer.event(&serde_json::json!({
        "event": "method", "host": target.host, "container": target.container.name,
        "image_id": target.container.image_id, "method": method, "command": command,
        "status": status.word(),
        "exit_code": match status { MethodStatus::Passed => Some(0), MethodStatus::Failed(c) => Some(c), _ => None },
        "detail": status.describe(),
        "duration_ms": elapsed.as_millis() as u64,
    }));
    let mark = if status.failed() {
        console::style("✗").red().to_string()
    } else {
        console::style("✓").green().to_string()
    };
    printer.note(&format!(
        "{mark} {method} in {} on {}: {} ({:.2} s)",
        target.container.name,
        target.host,
        status.describe(),
        elapsed.as_secs_f64()
    ));
    status
}

/// `update`: UPDATE, then VALIDATE when UPDATE passed and VALIDATE is declared.
/// `validate`: VALIDATE.
pub(crate) async fn run_target(
    action: Action,
    target: &Target,
    printer: &Printer,
) -> TargetOutcome {
    let started = Instant::now();
    let first = run_method(target, action.method(), printer).await;
    let validate = match action {
        Action::Validate => None,
        Action::Update if first == MethodStatus::Passed => {
            Some(run_method(target, "VALIDATE", printer).await)
        }
        Action::Update => Some(MethodStatus::Skipped),
    };
    TargetOutcome {
        first,
        validate,
        duration: started.elapsed(),
    }
}
