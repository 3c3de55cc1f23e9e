//! The rules that span several keys, checked once the file has been read: a step has one
//! kind, probes and references name what exists, paths stay inside the project, no
//! circles of tasks or checks.

use std::collections::BTreeSet;
use std::path::Path;

use toml::Spanned;

use crate::paths::PathSet;

use super::error::{child, item};
use super::placeholders::{UseSite, check_arguments, is_placeholder_name};
use super::ports::check_ports;
use super::suggest::list_keys;
use super::{
    ArgSpec, Config, ConfigError, ConstructSpec, ContainerPort, Key, Located, Place, STEP_KINDS,
    Service, StepSpec, Task, did_you_mean, dotted, place, placeholders,
};

pub(super) fn validate_task_name(at: &Located<'_>, task: &Task) -> Result<(), ConfigError> {
    let ok = !task.name.is_empty()
        && task.name.split(':').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        return Ok(());
    }
    Err(at.error(
        task.name_span.clone(),
        format!("`{}` is not a task name", task.name),
        Some("task names are words of letters, digits, - and _, joined by `:` for namespaces, e.g. test:host".into()),
    ))
}

pub(super) fn validate_arg(
    at: &Located<'_>,
    arg: &Spanned<ArgSpec>,
    here: &[Key],
) -> Result<(), ConfigError> {
    let name = &arg.get_ref().name;
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        return Ok(());
    }
    Err(at.error_at(
        here,
        arg.span(),
        format!("`{name}` is not an argument name"),
        Some("argument names are lower-case letters, digits and _ (they become environment variables of sh steps)".into()),
    ))
}

pub(super) fn validate(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    if let Some(service) = &config.service {
        validate_service(at, service)?;
    }
    if let Some(construct) = &config.construct {
        validate_construct(at, &config.root, construct)?;
    }
    check_cycles(at, config)?;
    for (name, step) in &config.checks {
        validate_step(at, config, step, &place(&["check", name]))?;
    }
    for task in config.tasks.values() {
        for dep in &task.deps {
            if !config.tasks.contains_key(dep.get_ref()) {
                return Err(at.error(
                    dep.span(),
                    format!(
                        "task `{}` depends on `{}`, which is not defined",
                        task.name,
                        dep.get_ref()
                    ),
                    did_you_mean(dep.get_ref(), config.tasks.keys()),
                ));
            }
        }
    }
    task_cycles(at, config)?;
    for task in config.tasks.values() {
        let steps = place(&["task", &task.name, "steps"]);
        for (index, step) in task.steps.iter().enumerate() {
            let here = item(&steps, index);
            validate_step(at, config, step, &here)?;
            let arguments = task.args.iter().map(|a| a.name.clone()).collect();
            let use_site = UseSite {
                task,
                place: &here,
                span: step.span(),
            };
            check_arguments(at, config, &use_site, step.get_ref(), &here, arguments, &[])?;
        }
    }
    Ok(())
}

fn validate_service(at: &Located<'_>, service: &Service) -> Result<(), ConfigError> {
    let top = place(&["service"]);
    let published = |port: ContainerPort| service.ports.contains(&port);
    let ports_list = || {
        let quoted: Vec<String> = service.ports.iter().map(|p| format!("\"{p}\"")).collect();
        format!("ports = [{}]", quoted.join(", "))
    };
    if let Some(ready) = &service.ready {
        let spec = ready.get_ref();
        let probes = [
            spec.dns.is_some(),
            spec.tcp.is_some(),
            spec.log.is_some(),
            spec.exec.is_some(),
        ];
        if probes.iter().filter(|p| **p).count() != 1 {
            return Err(at.error(
                ready.span(),
                "`ready` needs exactly one probe",
                Some("use one of dns = \"5301/udp\", tcp = \"53/tcp\", log = \"pattern\" or exec = [\"cmd\", ...]".into()),
            ));
        }
        for (key, port) in [("dns", spec.dns), ("tcp", spec.tcp)] {
            let Some(port) = port else { continue };
            if !published(port) {
                return Err(at.error_at(
                    &child(&child(&top, "ready"), key),
                    ready.span(),
                    format!(
                        "`ready` probes {port}, which the service does not publish ({})",
                        ports_list()
                    ),
                    Some(format!(
                        "add \"{port}\" to the service's ports, or probe one of those"
                    )),
                ));
            }
        }
        if spec.exec.as_ref().is_some_and(Vec::is_empty) {
            return Err(at.error_at(
                &child(&child(&top, "ready"), "exec"),
                ready.span(),
                "`ready.exec` is an empty command",
                Some("e.g. exec = [\"test\", \"-S\", \"/run/app.sock\"]".into()),
            ));
        }
    }
    if let Some(reload) = &service.reload {
        let spec = reload.get_ref();
        if spec.signal.is_some() == spec.exec.is_some() {
            return Err(at.error(
                reload.span(),
                "`reload` needs exactly one of `signal` or `exec`",
                Some("e.g. reload = { signal = \"HUP\", log = \"zones reloaded\" } or reload = { exec = [\"rndc\", \"reload\"] }".into()),
            ));
        }
        if let Some(signal) = &spec.signal {
            if !is_signal(signal) {
                return Err(at.error_at(
                    &child(&child(&top, "reload"), "signal"),
                    reload.span(),
                    format!("`{signal}` is not a signal"),
                    Some("name one such as HUP, USR1 or SIGHUP, or give its number".into()),
                ));
            }
        }
        if spec.exec.as_ref().is_some_and(Vec::is_empty) {
            return Err(at.error_at(
                &child(&child(&top, "reload"), "exec"),
                reload.span(),
                "`reload.exec` is an empty command",
                Some("e.g. exec = [\"rndc\", \"reload\"]".into()),
            ));
        }
    }
    if !service.mount.starts_with('/') {
        return Err(at.error_at(
            &child(&top, "mount"),
            0..0,
            format!(
                "`service.mount` must be an absolute path in the container, not `{}`",
                service.mount
            ),
            Some("e.g. mount = \"/service\"".into()),
        ));
    }
    if service.command.as_ref().is_some_and(Vec::is_empty) {
        return Err(at.error_at(
            &child(&top, "command"),
            0..0,
            "`service.command` is empty",
            Some("leave it out to run the image's own command (its START method)".into()),
        ));
    }
    Ok(())
}

/// Signal names as `docker kill -s` takes them, with or without `SIG`, or a number.
fn is_signal(name: &str) -> bool {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Ok(number) = name.parse::<u8>() {
        return (1..=64).contains(&number);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.contains(&bare)
}

/// `[construct]`: every file it reads or writes is inside the project, every mode octal.
fn validate_construct(
    at: &Located<'_>,
    root: &Path,
    construct: &ConstructSpec,
) -> Result<(), ConfigError> {
    let top = place(&["construct"]);
    let scope_places: Vec<Place> = match &construct.scope {
        crate::config::OneOrMany::One(_) => vec![child(&top, "scope")],
        crate::config::OneOrMany::Many(files) => (0..files.len())
            .map(|i| item(&child(&top, "scope"), i))
            .collect(),
    };
    for (file, here) in construct.scope.files().into_iter().zip(&scope_places) {
        inside_project(at, root, here, file)?;
    }
    let outputs = child(&top, "outputs");
    for (index, output) in construct.outputs.iter().enumerate() {
        let here = item(&outputs, index);
        inside_project(at, root, &child(&here, "template"), &output.template)?;
        inside_project(at, root, &child(&here, "output"), &output.output)?;
        if let Some(mode) = &output.mode {
            if crate::config::parse_mode(mode).is_none() {
                return Err(at.error_at(
                    &child(&here, "mode"),
                    0..0,
                    format!("`{mode}` is not a file mode"),
                    Some("an octal mode such as \"0644\" or \"0755\"".into()),
                ));
            }
        }
    }
    Ok(())
}

/// A path the config names, which must lead to a place inside the project directory.
fn inside_project(
    at: &Located<'_>,
    root: &Path,
    here: &[Key],
    path: &str,
) -> Result<(), ConfigError> {
    match crate::paths::resolve_inside(root, path) {
        Ok(_) => Ok(()),
        Err(why) => Err(at.error_at(
            here,
            0..0,
            format!("`{}` = `{path}` {why}", dotted(here)),
            Some(format!(
                "paths here are relative to the project directory {}, and stay in it",
                root.display()
            )),
        )),
    }
}

/// Patterns of `[watch] paths` and `[hook] paths`, compiled once at load.
pub(super) fn path_set(
    at: &Located<'_>,
    here: &[Key],
    patterns: &[String],
) -> Result<PathSet, ConfigError> {
    PathSet::new(patterns).map_err(|(index, why)| {
        let pattern = patterns.get(index).map_or("", String::as_str);
        let here = item(here, index);
        at.error_at(
            &here,
            0..0,
            format!("`{}` = `{pattern}` {why}", dotted(&here)),
            Some(PATTERN_HELP.into()),
        )
    })
}

const PATTERN_HELP: &str = "paths are gitignore patterns relative to the project directory, e.g. \"zones\", \"zones/*.zone\" or \"conf/**/*.conf\"";

/// A named check that refers to itself, or checks that refer to each other in a circle,
/// would expand forever.
fn check_cycles(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    for start in config.checks.keys() {
        let mut chain: Vec<&str> = vec![start];
        while let Some(next) = config
            .checks
            .get(chain[chain.len() - 1])
            .and_then(|step| step.get_ref().check.as_deref())
        {
            if let Some(first) = chain.iter().position(|c| *c == next) {
                let closing = chain[chain.len() - 1];
                let mut circle = chain[first..].to_vec();
                circle.push(next);
                let message = if circle.len() == 2 {
                    format!("check `{next}` refers to itself")
                } else {
                    format!(
                        "checks refer to each other in a circle: {}",
                        circle.join(" -> ")
                    )
                };
                let span = config.checks.get(closing).map_or(0..0, Spanned::span);
                return Err(at.error_at(
                    &place(&["check", closing, "check"]),
                    span,
                    message,
                    Some("a check that uses another check must end at one that does the work (dns, exec, ...)".into()),
                ));
            }
            if !config.checks.contains_key(next) {
                break;
            }
            chain.push(next);
        }
    }
    Ok(())
}

/// Prerequisites that lead back to the task that needs them have no first task to run.
fn task_cycles(at: &Located<'_>, config: &Config) -> Result<(), ConfigError> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in config.tasks.values() {
        // Depth first, without recursion: (task, how many of its deps were visited).
        let mut path: Vec<(&Task, usize)> = vec![(start, 0)];
        while let Some((task, next)) = path.last_mut() {
            let task: &Task = task;
            if done.contains(task.name.as_str()) {
                path.pop();
                continue;
            }
            let Some(dep) = task.deps.get(*next) else {
                done.insert(&task.name);
                path.pop();
                continue;
            };
            *next += 1;
            let name = dep.get_ref().as_str();
            if let Some(first) = path.iter().position(|(t, _)| t.name == name) {
                let mut circle: Vec<&str> =
                    path[first..].iter().map(|(t, _)| t.name.as_str()).collect();
                circle.push(name);
                let message = if circle.len() == 2 {
                    format!("task `{name}` depends on itself")
                } else {
                    format!(
                        "tasks depend on each other in a circle: {}",
                        circle.join(" -> ")
                    )
                };
                return Err(at.error(
                    dep.span(),
                    message,
                    Some("prerequisites run before the task that needs them, so a circle has no first task".into()),
                ));
            }
            if let Some(dep_task) = config.tasks.get(name) {
                if !done.contains(name) {
                    path.push((dep_task, 0));
                }
            }
        }
    }
    Ok(())
}

fn validate_step(
    at: &Located<'_>,
    config: &Config,
    step: &Spanned<StepSpec>,
    here: &[Key],
) -> Result<(), ConfigError> {
    let spec = step.get_ref();
    let kinds = spec.kinds();
    if kinds.len() != 1 {
        let found = if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(" and ")
        };
        return Err(at.error(
            step.span(),
            format!("a step needs exactly one of {}; found {found}", list_keys(&STEP_KINDS)),
            Some("e.g. { name = \"black list\", dns = \"{host}.bl.rbl\", type = \"A\", expect = [\"127.0.0.2\"] }".into()),
        ));
    }
    let stray = spec.stray_keys();
    if !stray.is_empty() {
        return Err(at.error(
            step.span(),
            format!(
                "{} does not apply to a `{}` step",
                list_keys(&stray),
                spec.kind()
            ),
            None,
        ));
    }
    let value_error = |key: &[Key], message: String, help: Option<String>| {
        let mut full = here.to_vec();
        full.extend_from_slice(key);
        at.error_at(&full, step.span(), message, help)
    };
    let name = |n: &str| Key::Name(n.to_owned());
    if let Some(check) = &spec.check {
        if !config.checks.contains_key(check) {
            return Err(value_error(
                &[name("check")],
                format!("no check named `{check}` is defined"),
                did_you_mean(check, config.checks.keys())
                    .or_else(|| Some(format!("define it as [check.{check}]"))),
            ));
        }
    }
    if spec.kind() == "construct" && config.construct.is_none() {
        return Err(at.error(
            step.span(),
            "a `construct` step needs a [construct] table (scope and outputs)",
            None,
        ));
    }
    if let Some(each) = &spec.each {
        if each.glob.is_some() == each.scope.is_some() {
            return Err(value_error(
                &[name("each")],
                "`each` needs exactly one of `glob` or `scope`".into(),
                Some("e.g. each = { glob = \"zones/*.zone\", as = \"zone\" }".into()),
            ));
        }
        if each.scope.is_some() && config.construct.is_none() {
            return Err(value_error(
                &[name("each"), name("scope")],
                "`each = { scope = ... }` reads the [construct] scope files, and there is no [construct] table".into(),
                None,
            ));
        }
        if let Some(glob) = &each.glob {
            if let Err((_, why)) = PathSet::new(std::slice::from_ref(glob)) {
                return Err(value_error(
                    &[name("each"), name("glob")],
                    format!("`each.glob` = `{glob}` {why}"),
                    Some(PATTERN_HELP.into()),
                ));
            }
        }
        if !is_placeholder_name(&each.bind) {
            return Err(value_error(
                &[name("each"), name("as")],
                format!("`{}` cannot be a placeholder name", each.bind),
                Some(
                    "letters, digits and _, e.g. as = \"zone\" (then {zone} and {zone_path})"
                        .into(),
                ),
            ));
        }
    }
    if spec.kind() == "rbl" && spec.zone.is_none() {
        return Err(at.error(
            step.span(),
            "an `rbl` step needs `zone`, the list's zone, e.g. zone = \"senderhost.bl.rbl\"",
            None,
        ));
    }
    if matches!(spec.kind(), "dns" | "rbl" | "rfc5782" | "exec" | "method")
        && config.service.is_none()
    {
        return Err(at.error(
            step.span(),
            format!("a `{}` step needs a [service] to run against", spec.kind()),
            None,
        ));
    }
    for (key, argv) in [("exec", &spec.exec), ("run", &spec.run)] {
        if argv.as_ref().is_some_and(Vec::is_empty) {
            return Err(value_error(
                &[name(key)],
                format!("`{key}` is an empty command"),
                Some(format!("e.g. {key} = [\"named-checkconf\", \"-z\"]")),
            ));
        }
    }
    // A program given by a relative path is one of the project's own scripts.
    if let Some(program) = spec.run.as_ref().and_then(|argv| argv.first()) {
        if program.contains('/') && !program.starts_with('/') && placeholders(program).is_empty() {
            if let Err(why) = crate::paths::resolve_inside(&config.root, program) {
                return Err(value_error(
                    &[name("run"), Key::Index(0)],
                    format!("the program `{program}` {why}"),
                    Some("a relative program path is a script of the project; name a system program by its absolute path or by its name (found on PATH)".into()),
                ));
            }
        }
    }
    if let Some(service) = &config.service {
        check_ports(spec, service, &value_error)?;
    }
    Ok(())
}
