//! A mistake in `devloop.toml`: where it is (file, line, column, the key's path) and what
//! would be right.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::FILE_NAME;

/// A mistake in `devloop.toml`, with where it is and what would be right.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("no {FILE_NAME} in {} or any directory above it", start.display())]
    NotFound { start: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} {what}; {FILE_NAME} must be a regular file", path.display())]
    NotAFile { path: PathBuf, what: String },
    #[error("{}:{line}:{column}: not UTF-8 text; {FILE_NAME} must be UTF-8", path.display())]
    NotText {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{}:{}:{}: {}", .0.path.display(), .0.line, .0.column, .0.message)]
    Invalid(Box<Invalid>),
}

/// Where the file is wrong and how, with the text to draw the place from.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    pub span: Range<usize>,
    pub source_text: String,
}

impl ConfigError {
    pub(crate) fn help(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { .. } => Some(format!(
                "run devloop inside a project that has a {FILE_NAME}, or point at one with --file"
            )),
            ConfigError::NotAFile { .. } => Some(format!(
                "replace it with the project's {FILE_NAME}, or point at one with --file"
            )),
            ConfigError::Read { .. } | ConfigError::NotText { .. } => None,
            ConfigError::Invalid(invalid) => invalid.help.clone(),
        }
    }
}

/// The error builder for one file: turns a byte span into line and column.
pub(crate) struct Located<'a> {
    pub path: &'a Path,
    pub source: &'a str,
}

impl Located<'_> {
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let (line, column) = line_column(self.source, span.start);
        ConfigError::Invalid(Box::new(Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
            help,
            span,
            source_text: self.source.to_owned(),
        }))
    }
}

/// One step on the way to a value in the file: a key of a table or an index of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Name(String),
    Index(usize),
}

/// The way to a value from the top of the file, e.g. `task."test:host".steps[2].dns`.
pub(crate) type Place = Vec<Key>;

/// The place of a key path given as names, e.g. `place(&["service", "mount"])`.
pub(crate) fn place(names: &[&str]) -> Place {
    names.iter().map(|n| Key::Name((*n).to_owned())).collect()
}

/// `place` with one more key.
pub(super) fn child(place: &[Key], name: &str) -> Place {
    let mut out = place.to_vec();
    out.push(Key::Name(name.to_owned()));
    out
}

/// `place` with one more index.
pub(super) fn item(place: &[Key], index: usize) -> Place {
    let mut out = place.to_vec();
    out.push(Key::Index(index));
    out
}

/// A place as an operator writes it in messages: `construct.outputs[0].output`.
pub(crate) fn dotted(place: &[Key]) -> String {
    let mut out = String::new();
    for key in place {
        match key {
            Key::Index(i) => out.push_str(&format!("[{i}]")),
            Key::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if bare {
                    out.push_str(name);
                } else {
                    out.push_str(&format!("{name:?}"));
                }
            }
        }
    }
    out
}

impl Located<'_> {
    /// Where the value at `place` is written. The document is parsed again for this, but
    /// only when there is an error to show: a valid file pays nothing.
    pub(crate) fn span_of(&self, place: &[Key]) -> Option<Range<usize>> {
        let document = toml::de::DeTable::parse(self.source).ok()?;
        let (Key::Name(first), rest) = place.split_first()? else {
            return None;
        };
        let mut value = document.get_ref().get(first.as_str())?;
        for key in rest {
            value = match key {
                Key::Name(name) => value.get_ref().get(name.as_str())?,
                Key::Index(index) => value.get_ref().get(*index)?,
            };
        }
        Some(value.span())
    }

    /// An error at the value at `place`, or at `fallback` (the enclosing table) when the
    /// value cannot be found (a default, say).
    pub(crate) fn error_at(
        &self,
        place: &[Key],
        fallback: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let span = self.span_of(place).unwrap_or(fallback);
        self.error(span, message, help)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Makes the error for a value of a step, given its key below the step.
pub(super) type ValueError<'a> = dyn Fn(&[Key], String, Option<String>) -> ConfigError + 'a;
