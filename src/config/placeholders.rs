//! `{name}` placeholders: each names an argument of the task that runs the step, and none
//! pastes an argument into shell text.

use std::ops::Range;

use super::error::child;
use super::{Config, ConfigError, Key, Located, StepSpec, Task, did_you_mean, place};

/// Where a task uses a step: for errors about the task's arguments.
pub(super) struct UseSite<'a> {
    pub(super) task: &'a Task,
    pub(super) place: &'a [Key],
    pub(super) span: Range<usize>,
}

/// Every `{name}` a step substitutes must be an argument of the task that runs it (or a
/// name its `each` binds), and no argument may be pasted into shell text. A `check` step
/// brings the named check's texts along: they are checked against the task that uses it.
pub(super) fn check_arguments(
    at: &Located<'_>,
    config: &Config,
    site: &UseSite<'_>,
    spec: &StepSpec,
    here: &[Key],
    mut declared: Vec<String>,
    via: &[&str],
) -> Result<(), ConfigError> {
    let task = site.task;
    if let Some(each) = &spec.each {
        declared.push(each.bind.clone());
        declared.push(format!("{}_path", each.bind));
    }
    let arguments = || {
        if declared.is_empty() {
            "it takes none".to_owned()
        } else {
            let quoted: Vec<String> = declared.iter().map(|d| format!("`{d}`")).collect();
            format!("its arguments: {}", quoted.join(", "))
        }
    };
    // In a named check, the error belongs where the task uses it: that is what binds it.
    let at_use = |key: &[Key], message: String, help: Option<String>| {
        if via.is_empty() {
            let mut full = here.to_vec();
            full.extend_from_slice(key);
            at.error_at(&full, site.span.clone(), message, help)
        } else {
            at.error_at(
                &child(site.place, "check"),
                site.span.clone(),
                message,
                help,
            )
        }
    };
    for (key, text) in placeholder_texts(spec) {
        for name in placeholders(text) {
            if declared.contains(&name) {
                continue;
            }
            let message = if via.is_empty() {
                format!(
                    "`{{{name}}}` names no argument of task `{}` ({})",
                    task.name,
                    arguments()
                )
            } else {
                format!(
                    "check `{}` uses `{{{name}}}`, which names no argument of task `{}` ({})",
                    via.join("` -> `"),
                    task.name,
                    arguments()
                )
            };
            let help = did_you_mean(&name, declared.iter()).or_else(|| {
                Some(format!(
                    "declare it in the task: args = [{{ name = \"{name}\" }}]"
                ))
            });
            return Err(at_use(&key, message, help));
        }
    }
    let script = spec
        .sh
        .as_deref()
        .map(|s| (vec![Key::Name("sh".into())], s))
        .or_else(|| {
            [("exec", &spec.exec), ("run", &spec.run)]
                .into_iter()
                .find_map(|(key, argv)| {
                    let argv = argv.as_ref()?;
                    let script = shell_script(argv)?;
                    let index = argv.iter().position(|a| a == script)?;
                    Some((vec![Key::Name(key.into()), Key::Index(index)], script))
                })
        });
    if let Some((key, script)) = script {
        if let Some(name) = placeholders(script)
            .into_iter()
            .find(|n| task.args.iter().any(|a| &a.name == n))
        {
            let message = if via.is_empty() {
                format!(
                    "`{{{name}}}` in a shell script would paste a task argument into shell text"
                )
            } else {
                format!(
                    "check `{}` has `{{{name}}}` in a shell script, which would paste task `{}`'s argument into shell text",
                    via.join("` -> `"),
                    task.name
                )
            };
            return Err(at_use(
                &key,
                message,
                Some(format!(
                    "task arguments reach commands as environment variables: write \"${name}\""
                )),
            ));
        }
    }
    if let Some(check) = &spec.check {
        // Circles of checks are refused before this runs; `via` keeps it finite anyway.
        if let Some(step) = config
            .checks
            .get(check)
            .filter(|_| !via.contains(&check.as_str()))
        {
            let mut chain = via.to_vec();
            chain.push(check);
            check_arguments(
                at,
                config,
                site,
                step.get_ref(),
                &place(&["check", check]),
                declared,
                &chain,
            )?;
        }
    }
    Ok(())
}

pub(super) fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script of an argument vector that runs a shell: `["sh", "-c", SCRIPT, ...]`.
fn shell_script(argv: &[String]) -> Option<&str> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    let shells = ["sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"];
    if !shells.contains(&name) {
        return None;
    }
    let flag = argv
        .iter()
        .position(|a| a.starts_with('-') && a.contains('c'))?;
    argv.get(flag + 1).map(String::as_str)
}

/// The texts of a step into which task arguments are substituted, each with its key.
pub(crate) fn placeholder_texts(spec: &StepSpec) -> Vec<(Vec<Key>, &str)> {
    let key = |name: &str| Key::Name(name.to_owned());
    let mut texts: Vec<(Vec<Key>, &str)> = Vec::new();
    for (name, text) in [("dns", &spec.dns), ("rbl", &spec.rbl), ("zone", &spec.zone)] {
        if let Some(text) = text {
            texts.push((vec![key(name)], text));
        }
    }
    for (name, list) in [("exec", &spec.exec), ("run", &spec.run)] {
        for (index, text) in list.iter().flatten().enumerate() {
            texts.push((vec![key(name), Key::Index(index)], text));
        }
    }
    texts
}

/// The `{name}` placeholders in a text; `{{` and `${name}` (shell syntax) are not placeholders.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(open) = rest.find('{') {
        let before = rest[..open].chars().last().or(prev);
        let after = &rest[open + 1..];
        if let Some(escaped) = after.strip_prefix('{') {
            rest = escaped;
            prev = Some('{');
            continue;
        }
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            let is_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_name && before != Some('$') {
                found.push(name.to_owned());
            }
            rest = &after[close + 1..];
            prev = Some('}');
        } else {
            break;
        }
    }
    found
}
