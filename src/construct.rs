//! `construct`: config files rendered from YAML scope data through templates, written
//! atomically and only when they change, with a diff stat of what changed.
//!
//! Rendering is strict: an undefined variable is an error, not an empty string, because a
//! typo in a template must not quietly drop a zone from a name server's configuration.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::config::{ConstructSpec, parse_mode};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConstructError {
    #[error("{file}:{line}:{column}: {message}")]
    Scope {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("template {name}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        name: String,
        line: Option<usize>,
        message: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{mode}` is not an octal file mode such as 0644 (output {output})")]
    Mode { mode: String, output: String },
    /// The tree changed since the config was loaded (or watch reloaded it): a path that
    /// was inside the project now leads out, through a symlink.
    #[error("{what} `{path}` {why}; nothing was written")]
    Outside {
        what: &'static str,
        path: String,
        why: crate::paths::Escape,
    },
}

/// Where a path of the config leads, checked again when it is used: the config was
/// checked at load, but the tree may have changed since.
fn inside(root: &Path, what: &'static str, path: &str) -> Result<PathBuf, ConstructError> {
    crate::paths::resolve_inside(root, path).map_err(|why| ConstructError::Outside {
        what,
        path: path.to_owned(),
        why,
    })
}

/// One output: what is on disk, and what the templates make of the scope now.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub output: String,
    pub template: String,
    pub old: Option<String>,
    pub new: String,
    pub mode: Option<u32>,
}

impl Rendered {
    pub(crate) fn changed(&self) -> bool {
        self.old.as_deref() != Some(self.new.as_str())
    }
}

/// Reads the scope files and merges their top-level mappings, later files winning.
pub(crate) fn load_scope(
    root: &Path,
    spec: &ConstructSpec,
) -> Result<BTreeMap<String, serde_yaml_ng::Value>, ConstructError> {
    let mut scope = BTreeMap::new();
    for file in spec.scope.files() {
        let path = inside(root, "scope file", file)?;
        let text = std::fs::read_to_string(&path).map_err(|source| ConstructError::Read {
            path: path.clone(),
            source,
        })?;
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            ConstructError::Scope {
                file: file.to_owned(),
                line,
                column,
                message: e
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })?;
        match value {
            serde_yaml_ng::Value::Mapping(map) => {
                for (key, value) in map {
                    let key = match key {
                        serde_yaml_ng::Value::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    scope.insert(key, value);
                }
            }
            serde_yaml_ng::Value::Null => {}
            _ => {
                return Err(ConstructError::Scope {
                    file: file.to_owned(),
                    line: 1,
                    column: 1,
                    message: "the top level must be a mapping (key: value)".into(),
                });
            }
        }
    }
    Ok(scope)
}

/// Renders every output; reads the current files to compare. Writes nothing.
pub(crate) fn render(root: &Path, spec: &ConstructSpec) -> Result<Vec<Rendered>, ConstructError> {
    let scope = load_scope(root, spec)?;
    let context = minijinja::Value::from(minijinja::value::Serde(&scope));
    let env = environment(root);
    let mut out = Vec::new();
    for output in &spec.outputs {
        let template = env
            .get_template(&output.template)
            .map_err(|e| template_error(&output.template, &e))?;
        let new = template
            .render(context.clone())
            .map_err(|e| template_error(&output.template, &e))?;
        let path = inside(root, "output", &output.output)?;
        let old = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConstructError::Read { path, source }),
        };
        let mode = output
            .mode
            .as_ref()
            .map(|m| {
                parse_mode(m).ok_or_else(|| ConstructError::Mode {
                    mode: m.clone(),
                    output: output.output.clone(),
                })
            })
            .transpose()?;
        out.push(Rendered {
            output: output.output.clone(),
            template: output.template.clone(),
            old,
            new,
            mode,
        });
    }
    Ok(out)
}

fn environment(root: &Path) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let root = root.to_path_buf();
    // Like minijinja's path loader, but a template (or an include) that leads out of the
    // project, through `..` or a symlink, is an error rather than a file read.
    env.set_loader(move |name| {
        let path = crate::paths::resolve_inside(&root, name).map_err(|why| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("template `{name}` {why}"),
            )
        })?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("cannot read template `{name}`: {e}"),
            )),
        }
    });
    env
}

fn template_error(name: &str, e: &minijinja::Error) -> ConstructError {
    // The innermost template named is where the mistake is (an included file, say).
    ConstructError::Template {
        name: e.name().unwrap_or(name).to_owned(),
        line: e.line(),
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    }
}

/// Writes the outputs that changed, each atomically (temporary file, then rename).
pub(crate) fn write(root: &Path, rendered: &[Rendered]) -> Result<(), ConstructError> {
    for item in rendered.iter().filter(|r| r.changed()) {
        let path = inside(root, "output", &item.output)?;
        let fail = |source| ConstructError::Write {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mode = item.mode.or_else(|| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
        });
        crate::fsutil::write_atomic_with_mode(&path, item.new.as_bytes(), mode).map_err(fail)?;
    }
    Ok(())
}

/// Insertions and deletions of one output, by line.
pub(crate) fn counts(item: &Rendered) -> (usize, usize) {
    let old = item.old.as_deref().unwrap_or("");
    let diff = similar::TextDiff::from_lines(old, &item.new);
    let mut added = 0;
    let mut removed = 0;
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

/// A diff stat like git's: ` conf/named_slave_zones | 7 +++++++`, then the totals.
pub(crate) fn diff_stat(rendered: &[Rendered]) -> String {
    let changed: Vec<(&Rendered, (usize, usize))> = rendered
        .iter()
        .filter(|r| r.changed())
        .map(|r| (r, counts(r)))
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let width = changed
        .iter()
        .map(|(r, _)| r.output.len())
        .max()
        .unwrap_or(0);
    let digits = changed
        .iter()
        .map(|(_, (a, d))| (a + d).to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    let (mut added, mut removed) = (0, 0);
    for (item, (a, d)) in &changed {
        added += a;
        removed += d;
        // Like git, bars are capped so a huge rewrite stays on one line.
        let scale = |n: usize| -> usize {
            let total = a + d;
            if total <= 50 {
                n
            } else {
                (n * 50).div_ceil(total)
            }
        };
        let _ = writeln!(
            out,
            " {:width$} | {:>digits$} {}{}",
            item.output,
            a + d,
            "+".repeat(scale(*a)),
            "-".repeat(scale(*d)),
        );
    }
    let files = changed.len();
    let _ = writeln!(
        out,
        " {files} file{} changed, {added} insertion{}(+), {removed} deletion{}(-)",
        if files == 1 { "" } else { "s" },
        if added == 1 { "" } else { "s" },
        if removed == 1 { "" } else { "s" },
    );
    out
}

/// The unified diff of every changed output, as `git diff` would show it.
pub(crate) fn unified_diff(rendered: &[Rendered]) -> String {
    let mut out = String::new();
    for item in rendered.iter().filter(|r| r.changed()) {
        let old = item.old.as_deref().unwrap_or("");
        let diff = similar::TextDiff::from_lines(old, &item.new);
        let old_name = if item.old.is_some() {
            format!("a/{}", item.output)
        } else {
            "/dev/null".to_owned()
        };
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&old_name, &format!("b/{}", item.output))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OneOrMany, OutputSpec};

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn spec() -> ConstructSpec {
        ConstructSpec {
            scope: OneOrMany::One("zones.yaml".into()),
            outputs: vec![OutputSpec {
                template: "templates/slave.j2".into(),
                output: "conf/slaves".into(),
                mode: Some("0640".into()),
            }],
        }
    }

    const ZONES: &str = "zones:\n  foo.com: { type: slave, master: 192.0.2.1 }\n  bar.com: { type: slave, master: 192.0.2.53 }\n";
    const TEMPLATE: &str = "{% for name, zone in zones|dictsort %}\n{% if zone.type == 'slave' %}\nzone \"{{ name }}\" { type slave; masters { {{ zone.master }}; }; };\n{% endif %}\n{% endfor %}\n";

    #[test]
    fn renders_writes_atomically_and_reports_changes() {
        let dir = project(&[("zones.yaml", ZONES), ("templates/slave.j2", TEMPLATE)]);
        let rendered = render(dir.path(), &spec()).expect("render");
        assert_eq!(
            rendered[0].new,
            "zone \"bar.com\" { type slave; masters { 192.0.2.53; }; };\nzone \"foo.com\" { type slave; masters { 192.0.2.1; }; };\n"
        );
        assert!(rendered[0].changed());
        assert_eq!(
            diff_stat(&rendered),
            " conf/slaves | 2 ++\n 1 file changed, 2 insertions(+), 0 deletions(-)\n"
        );
        write(dir.path(), &rendered).expect("write");
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir.path().join("conf/slaves")).expect("written");
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        let again = render(dir.path(), &spec()).expect("render");
        assert!(!again[0].changed());
        assert_eq!(diff_stat(&again), "");
    }

    #[test]
    fn unified_diff_shows_the_change() {
        let dir = project(&[
            ("zones.yaml", ZONES),
            ("templates/slave.j2", TEMPLATE),
            (
                "conf/slaves",
                "zone \"foo.com\" { type slave; masters { 192.0.2.1; }; };\n",
            ),
        ]);
        let rendered = render(dir.path(), &spec()).expect("render");
        let diff = unified_diff(&rendered);
        assert!(diff.contains("--- a/conf/slaves"), "{diff}");
        assert!(diff.contains("+zone \"bar.com\""), "{diff}");
        assert_eq!(counts(&rendered[0]), (1, 0));
    }

    #[test]
    fn undefined_variables_are_errors_with_template_and_line() {
        let dir = project(&[
            ("zones.yaml", ZONES),
            ("templates/slave.j2", "ok\n{{ zones.foo_com.master }}\n"),
        ]);
        match render(dir.path(), &spec()) {
            Err(ConstructError::Template { name, line, .. }) => {
                assert_eq!(name, "templates/slave.j2");
                assert_eq!(line, Some(2));
            }
            other => panic!("expected a template error, got {other:?}"),
        }
    }

    #[test]
    fn a_path_that_leads_out_since_the_config_was_loaded_is_not_written_through() {
        let outside = tempfile::tempdir().expect("tempdir");
        let dir = project(&[("zones.yaml", ZONES), ("templates/slave.j2", TEMPLATE)]);
        let rendered = render(dir.path(), &spec()).expect("render");
        // conf/ becomes a symlink out of the project between rendering and writing.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("conf")).expect("symlink");
        match write(dir.path(), &rendered) {
            Err(e @ ConstructError::Outside { .. }) => {
                assert!(e.to_string().contains("through the symlink conf"), "{e}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!outside.path().join("slaves").exists());
    }

    #[test]
    fn an_include_that_leads_out_of_the_project_is_an_error() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "hunter2").expect("write");
        let dir = project(&[
            ("zones.yaml", ZONES),
            ("templates/slave.j2", "{% include 'up/secret' %}"),
        ]);
        std::os::unix::fs::symlink(outside.path(), dir.path().join("up")).expect("symlink");
        match render(dir.path(), &spec()) {
            Err(e @ ConstructError::Template { .. }) => {
                assert!(e.to_string().contains("leads out of the project"), "{e}");
            }
            other => panic!("expected a template error, got {other:?}"),
        }
    }

    #[test]
    fn broken_yaml_names_file_line_and_column() {
        let dir = project(&[
            ("zones.yaml", "zones:\n  foo.com: [unclosed\n"),
            ("templates/slave.j2", TEMPLATE),
        ]);
        match render(dir.path(), &spec()) {
            Err(e @ ConstructError::Scope { .. }) => {
                let text = e.to_string();
                assert!(text.starts_with("zones.yaml:3:"), "{text}");
            }
            other => panic!("expected a scope error, got {other:?}"),
        }
    }
}
