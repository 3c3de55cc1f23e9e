//! The commands, one module per family: running and listing tasks (`task`), `watch`,
//! `hook`, `init`, `construct`, `image` (build, inspect), `fleet` (validate, update),
//! `shell` and `clean`. Each prepares what it can without the engine (config, plan,
//! prompts), then runs as a `Job` under the supervisor.
//!
//! A command may use the loop (`plan`, `checks`, `run`), `settings`, `events` and
//! `report`, `runtime`, `config` and the leaf libraries. Nothing imports a command but
//! `app`.

pub(crate) mod clean;
pub(crate) mod construct;
pub(crate) mod fleet;
pub(crate) mod hook;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod shell;
pub(crate) mod task;
pub(crate) mod watch;

use crate::error::AppError;
use crate::runtime::Registry;
use crate::settings::Settings;
use crate::signal::Cancel;

/// Work that needs the Docker engine, prepared and ready to go. One is made per process,
/// and handed on boxed: the sizes of its variants do not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    Task(task::TaskJob),
    Clean {
        all: bool,
        settings: Settings,
    },
    Shell(shell::ShellJob),
    Watch(watch::WatchJob),
    Build(image::BuildJob),
    Inspect(image::InspectJob),
    /// `validate` or `update`, on one host or a fleet.
    Lifecycle(fleet::LifecycleJob),
}

/// What the synchronous stage leaves to do.
pub(crate) enum Prepared {
    /// Answered without the engine (`list`, `construct`, `init`, ...), with this exit code.
    Done(i32),
    Job(Box<Job>),
}

/// Runs a job to its exit code. The registry holds every container it creates, for the
/// supervisor to remove whatever ends the job.
pub(crate) async fn execute(job: Job, registry: Registry, cancel: Cancel) -> Result<i32, AppError> {
    match job {
        Job::Task(job) => task::execute(job, registry, cancel).await,
        Job::Watch(job) => watch::watch(job, registry, cancel).await,
        Job::Build(job) => image::build::execute(job, &cancel).await,
        Job::Inspect(job) => image::inspect::execute(job, &cancel).await,
        Job::Lifecycle(job) => fleet::execute(job, &cancel).await,
        Job::Clean { all, settings } => clean::execute(all, &settings).await,
        Job::Shell(job) => shell::execute(job, registry, cancel).await,
    }
}
