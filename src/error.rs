//! The errors that end a command, each with its exit code, rendered in one place.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

use crate::config::{ConfigError, Invalid};
use crate::construct::ConstructError;
use crate::exit;
use crate::git::GitError;
use crate::plan::PlanError;
use crate::runtime::RuntimeError;
use crate::signal::Signal;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Construct(#[from] ConstructError),
    #[error("{message}")]
    Usage {
        message: String,
        help: Option<String>,
    },
    #[error("{action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("interrupted by {0}")]
    Interrupted(Signal),
}

impl AppError {
    pub(crate) fn usage(message: impl Into<String>, help: Option<String>) -> Self {
        AppError::Usage {
            message: message.into(),
            help,
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            AppError::Config(_) | AppError::Plan(_) | AppError::Usage { .. } => exit::USAGE,
            AppError::Construct(ConstructError::Write { .. }) => exit::ENVIRONMENT,
            AppError::Construct(_) => exit::USAGE,
            AppError::Runtime(_) | AppError::Io { .. } => exit::ENVIRONMENT,
            AppError::Interrupted(signal) => signal.exit_code(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            AppError::Config(e) => e.help(),
            AppError::Plan(e) => e.help(),
            AppError::Runtime(e) => e.help(),
            AppError::Usage { help, .. } => help.clone(),
            AppError::Construct(ConstructError::Template { .. } | ConstructError::Scope { .. }) => {
                Some("nothing was written and no container was started".into())
            }
            AppError::Construct(_) | AppError::Io { .. } | AppError::Interrupted(_) => None,
        }
    }

    /// The message for stderr: a source excerpt with a caret for config errors, the
    /// container's last log lines for a service that died.
    pub(crate) fn render(&self, color: bool) -> String {
        if let AppError::Config(ConfigError::Invalid(invalid)) = self {
            let Invalid {
                path,
                message,
                help,
                span,
                source_text,
                line,
                column,
            } = invalid.as_ref();
            let diagnostic = SourceDiagnostic {
                message: format!("{}:{line}:{column}: {message}", path.display()),
                code: NamedSource::new(path.display().to_string(), source_text.clone()),
                span: (span.start, span.len()).into(),
                help: help.clone(),
            };
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let mut out = String::new();
            if GraphicalReportHandler::new_themed(theme)
                .render_report(&mut out, &diagnostic)
                .is_ok()
            {
                return out;
            }
        }
        let mut out = format!("error: {self}\n");
        if let AppError::Runtime(e) = self {
            let tail = e.log_tail();
            if !tail.is_empty() {
                out.push_str("container log (last lines):\n");
                for line in tail {
                    out.push_str(&format!("  | {line}\n"));
                }
            }
        }
        if let Some(help) = self.help() {
            out.push_str(&format!("help: {help}\n"));
        }
        out
    }
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
struct SourceDiagnostic {
    message: String,
    #[source_code]
    code: NamedSource<String>,
    #[label("here")]
    span: SourceSpan,
    #[help]
    help: Option<String>,
}

impl From<GitError> for AppError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::NotARepository { .. } => AppError::usage(
                e.to_string(),
                Some("run it inside the repository (or point at it with -C DIR); `git init` makes one".into()),
            ),
            GitError::Spawn { source } => AppError::Io {
                action: "running git".into(),
                source,
            },
            GitError::Failed { .. } => AppError::Io {
                action: "asking git".into(),
                source: std::io::Error::other(e.to_string()),
            },
        }
    }
}
