//! `devloop shell`: the same ephemeral container a task would get, with the same mount,
//! and an interactive shell in it (or a command); removed when the shell exits.

use crate::config::Config;
use crate::error::AppError;
use crate::exit;
use crate::run::{Session, start_service};
use crate::runtime::Registry;
use crate::settings::{Format, Settings};
use crate::signal::Cancel;

pub(crate) struct ShellJob {
    config: Box<Config>,
    command: Vec<String>,
    settings: Settings,
}

pub(crate) fn prepare(settings: &Settings, command: Vec<String>) -> Result<ShellJob, AppError> {
    let config = settings.load_config()?;
    if config.service.is_none() {
        return Err(AppError::usage(
            "this project declares no [service] to open a shell in",
            None,
        ));
    }
    Ok(ShellJob {
        config: Box::new(config),
        command,
        settings: settings.clone(),
    })
}

pub(crate) async fn execute(
    job: ShellJob,
    registry: Registry,
    cancel: Cancel,
) -> Result<i32, AppError> {
    let ShellJob {
        config,
        command,
        settings,
    } = job;
    let Some(service) = &config.service else {
        return Err(AppError::usage(
            "this project declares no [service] to open a shell in",
            None,
        ));
    };
    // The shell owns the terminal: only the human report's spinner, no JSON, no JUnit.
    let mut reporters = Settings {
        format: Format::Human,
        junit: None,
        ..settings.clone()
    }
    .reporters();
    let run = crate::run::RunOptions {
        pull: settings.run.pull,
        ..crate::run::RunOptions::default()
    };
    let session = Session {
        config: &config,
        options: &run,
        registry: &registry,
        cancel: &cancel,
    };
    let running = start_service(session, service, "shell", &mut reporters).await?;
    let status = crate::runtime::attach(&running.guard, &command).await;
    // A removal that fails is the registry's to retry and report.
    let _ = running.guard.remove().await;
    Ok(i32::try_from(status?).unwrap_or(exit::ENVIRONMENT))
}
