//! What a command needs to know of the command line, resolved once (ripgrep's `HiArgs`):
//! the directory devloop runs in and the `devloop.toml` it reads, the output format and
//! the reports, whether a person is at the terminal, and how a run should behave. Nothing
//! below `app` sees a clap type; everything below reads this.

use std::path::{Path, PathBuf};

use crate::cli;
use crate::config::{self, Config, PullPolicy};
use crate::error::AppError;
use crate::events::{Event, Reporters};
use crate::report::{Human, Json, Junit};
use crate::run::RunOptions;

/// How the results are written on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// For a person: lines, colours, a spinner on a terminal.
    Human,
    /// JSON Lines, one event per line.
    Json,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The directory devloop was started in.
    pub cwd: PathBuf,
    /// Where devloop runs as if started: `-C DIR` (relative to `cwd`), else `cwd`.
    pub start: PathBuf,
    /// `-f FILE` as typed (relative paths are relative to `cwd`).
    pub file: Option<PathBuf>,
    pub format: Format,
    /// `-v`: the equivalent command of every check, and more detail.
    pub verbose: bool,
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    pub run: RunOptions,
    /// `--staged`: test what the index holds, not the work tree.
    pub staged: bool,
    /// `--image-from [HOST:]CONTAINER`.
    pub image_from: Option<String>,
}

impl Settings {
    pub(crate) fn new(options: cli::Options) -> Result<Settings, AppError> {
        let cwd = std::env::current_dir().map_err(|source| AppError::Io {
            action: "reading the current directory".into(),
            source,
        })?;
        let start = options
            .directory
            .as_ref()
            .map_or_else(|| cwd.clone(), |dir| cwd.join(dir));
        Ok(Settings {
            start,
            cwd,
            file: options.file,
            format: match options.format {
                Some(cli::Format::Json) => Format::Json,
                Some(cli::Format::Human) | None => Format::Human,
            },
            verbose: options.verbose,
            junit: options.junit,
            run: RunOptions {
                keep: options.keep,
                fail_fast: options.fail_fast,
                pull: options.pull.map(pull_policy),
            },
            staged: options.staged,
            image_from: options.image_from,
        })
    }

    /// The `devloop.toml` to read: `-f FILE`, else the nearest one at or above `start`.
    pub(crate) fn config_path(&self) -> Result<PathBuf, AppError> {
        match &self.file {
            Some(file) => Ok(file.clone()),
            None => Ok(config::find(&self.start)?),
        }
    }

    pub(crate) fn load_config(&self) -> Result<Config, AppError> {
        Ok(config::load(&self.config_path()?)?)
    }

    /// A path given on the command line, as devloop sees it.
    pub(crate) fn typed_path(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }

    /// The reporters the command line asks for: the terminal report or JSON Lines on
    /// stdout, and a JUnit file.
    pub(crate) fn reporters(&self) -> Reporters {
        let mut reporters = Reporters::default();
        match self.format {
            Format::Json => reporters.add(Box::new(Json::new(std::io::stdout()))),
            Format::Human => reporters.add(Box::new(Human::new(self.verbose))),
        }
        if let Some(path) = &self.junit {
            reporters.add(Box::new(Junit::new(path.clone())));
        }
        reporters
    }

    /// Reports what a command has to say in one event (a listing, a file written).
    pub(crate) fn report(&self, event: Event<'_>) -> Result<(), AppError> {
        let mut reporters = self.reporters();
        reporters.emit(event);
        finish(&mut reporters)
    }
}

/// Ends a command's reports: the spinner stops, the JUnit file is written.
pub(crate) fn finish(reporters: &mut Reporters) -> Result<(), AppError> {
    reporters.finish().map_err(|source| AppError::Io {
        action: "writing the reports".into(),
        source,
    })
}

fn pull_policy(pull: cli::PullArg) -> PullPolicy {
    match pull {
        cli::PullArg::Missing => PullPolicy::Missing,
        cli::PullArg::Always => PullPolicy::Always,
        cli::PullArg::Never => PullPolicy::Never,
    }
}
