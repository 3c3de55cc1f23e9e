//! Running a task (`devloop TASK [ARGS]`, `devloop run`, the hook's run), and listing
//! the tasks: arguments bound (prompts included) and the plan made before anything
//! starts; then one run of the loop, on the work tree or on the staged tree (`staged`),
//! optionally pinned to the image a production container runs (`parity`).

pub(crate) mod parity;
pub(crate) mod staged;

use std::io::{BufRead, IsTerminal, Write};

use staged::StagedTree;

use crate::config::{ArgSpec, Config};
use crate::error::AppError;
use crate::events::{Event, ProjectEvent, TaskEntry, Verdict};
use crate::exit;
use crate::plan::{self, Plan};
use crate::run::{Session, run_plan};
use crate::runtime::Registry;
use crate::settings::{self, Settings};
use crate::signal::Cancel;

use super::Prepared;

/// A task, planned and ready to run.
pub(crate) struct TaskJob {
    config: Box<Config>,
    plan: Plan,
    settings: Settings,
    /// The exported index a `--staged` run tests; removed when the job is dropped.
    _staged: Option<StagedTree>,
}

/// Binds the arguments and plans the task, so that every mistake is reported before
/// anything starts.
pub(crate) fn prepare(
    settings: &Settings,
    name: &str,
    given: &[String],
) -> Result<Prepared, AppError> {
    check_report_path(settings)?;
    let (config, staged) = if settings.staged {
        let staged = staged::load(settings)?;
        (staged.config, Some(staged.tree))
    } else {
        (settings.load_config()?, None)
    };
    let task = plan::find_task(&config, name)?;
    let args = plan::bind_args(task, given, &mut prompt)?;
    let plan = plan::plan(&config, task, args)?;
    Ok(Prepared::Job(Box::new(super::Job::Task(TaskJob {
        config: Box::new(config),
        plan,
        settings: settings.clone(),
        _staged: staged,
    }))))
}

/// `devloop` alone: the `default` task when there is one, else the list of tasks and a
/// usage error.
pub(crate) fn prepare_default(settings: &Settings) -> Result<Prepared, AppError> {
    let config = settings.load_config()?;
    if config.tasks.contains_key("default") {
        return prepare(settings, "default", &[]);
    }
    list(&config, settings)?;
    Err(AppError::usage(
        "no task given",
        Some("devloop TASK [ARGS]; see devloop --help".into()),
    ))
}

/// `devloop list`.
pub(crate) fn list_tasks(settings: &Settings) -> Result<i32, AppError> {
    list(&settings.load_config()?, settings)?;
    Ok(exit::PASSED)
}

pub(crate) async fn execute(
    job: TaskJob,
    registry: Registry,
    cancel: Cancel,
) -> Result<i32, AppError> {
    let TaskJob {
        mut config,
        plan,
        settings,
        _staged,
    } = job;
    let mut reporters = settings.reporters();
    if let Some(spec) = &settings.image_from {
        cancel
            .guard(parity::pin_image(&mut config, spec, &mut reporters))
            .await
            .map_err(AppError::Interrupted)??;
    }
    let session = Session {
        config: &config,
        options: &settings.run,
        registry: &registry,
        cancel: &cancel,
    };
    let verdict = run_plan(session, &plan, &mut reporters).await;
    settings::finish(&mut reporters)?;
    Ok(match verdict? {
        Verdict::Passed => exit::PASSED,
        _ => exit::CHECK_FAILED,
    })
}

/// Makes sure the `--junit` report can be written where asked before anything starts, so
/// that a mistyped directory costs nothing rather than a whole run: the path is not a
/// directory, and its directory exists and takes a new file (tried, and removed again).
pub(crate) fn check_report_path(settings: &Settings) -> Result<(), AppError> {
    let Some(path) = &settings.junit else {
        return Ok(());
    };
    let unusable = |why: String| {
        AppError::usage(
            format!("cannot write the JUnit report to {}: {why}", path.display()),
            Some("give --junit a file in a directory that exists and that you can write".into()),
        )
    };
    if path.is_dir() {
        return Err(unusable("it is a directory".into()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unusable(format!(
                "the directory {} does not exist",
                dir.display()
            )));
        }
        Err(e) => return Err(unusable(format!("{}: {e}", dir.display()))),
        Ok(meta) if !meta.is_dir() => {
            return Err(unusable(format!("{} is not a directory", dir.display())));
        }
        Ok(_) => {}
    }
    let probe = dir.join(format!(".devloop-junit-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(unusable(format!(
            "no file can be created in {}: {e}",
            dir.display()
        ))),
    }
}

/// Asks for a missing argument when a person is there to answer.
pub(crate) fn prompt(arg: &ArgSpec) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let question = arg.prompt.clone().unwrap_or_else(|| arg.name.clone());
    let default = arg
        .default
        .as_ref()
        .map(|d| format!(" [{d}]"))
        .unwrap_or_default();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}{default}: ");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_owned())
}

fn list(config: &Config, settings: &Settings) -> Result<(), AppError> {
    let tasks = config
        .tasks
        .values()
        .map(|task| TaskEntry {
            name: task.name.clone(),
            description: task.description.clone(),
            args: task.args.iter().map(|a| a.name.clone()).collect(),
            deps: task.deps.iter().map(|d| d.get_ref().clone()).collect(),
        })
        .collect();
    settings.report(Event::Project(&ProjectEvent::Tasks(tasks)))
}
