//! Tasks expand to a plan: prerequisites first, arguments bound and checked, every step
//! concrete. Pure: no Docker, no network, no terminal.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::config::{
    ArgKind, ArgSpec, Config, ConstructMode, ContainerPort, EachSpec, ExpectSpec, Pattern, RblList,
    StepSpec, Task, closest,
};
use crate::dns::{self, Expectation, RecordKind, Transport};
use crate::paths::PathSet;

#[derive(Debug)]
pub(crate) struct Plan {
    pub task: String,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug)]
pub(crate) struct PlannedStep {
    /// The task that declared the step (a prerequisite's steps carry its name).
    pub task: String,
    pub name: String,
    pub action: Action,
    /// A prerequisite's step, or a `construct` step: when it fails, nothing after it
    /// runs, since what follows depends on it.
    pub gate: bool,
}

#[derive(Debug)]
pub(crate) enum Action {
    Dns(DnsCheck),
    Exec(CommandCheck),
    /// Run the image's declared lifecycle method (e.g. VALIDATE) in the container.
    Method {
        method: String,
        check: CommandCheck,
    },
    Host(HostCommand),
    /// Render the `[construct]` outputs: check they are up to date, or write them.
    Construct {
        write: bool,
    },
}

impl Action {
    pub(crate) fn needs_service(&self) -> bool {
        !matches!(self, Action::Host(_) | Action::Construct { .. })
    }
}

#[derive(Debug)]
pub(crate) struct DnsCheck {
    pub name: String,
    pub kind: RecordKind,
    pub port: ContainerPort,
    pub transport: Transport,
    pub expect: Vec<Expectation>,
    pub timeout: Duration,
}

/// A command with the result it must give: in the container (`exec`) or on the host.
#[derive(Debug, Clone)]
pub(crate) struct CommandCheck {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub status: i64,
    pub pattern: Option<Pattern>,
    pub no_match: Option<Pattern>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct HostCommand {
    pub check: CommandCheck,
    /// For `sh` steps, the script (run as `sh -c SCRIPT`); task arguments are in `env`.
    pub script: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    #[error("no task named `{name}`")]
    UnknownTask {
        name: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    #[error("task `{task}` needs the argument `{arg}`")]
    MissingArgument { task: String, arg: String },
    #[error("task `{task}` takes {takes} argument(s), got {got}: {extra:?} is one too many")]
    TooManyArguments {
        task: String,
        takes: usize,
        got: usize,
        extra: String,
    },
    #[error("invalid {arg} {value:?}: {reason}")]
    BadArgument {
        arg: String,
        value: String,
        reason: String,
    },
    #[error("tasks depend on each other in a circle: {0}")]
    Cycle(String),
    #[error("checks refer to each other in a circle: {0}")]
    CheckCycle(String),
    #[error("step `{step}` of task `{task}`: {reason}")]
    BadStep {
        task: String,
        step: String,
        reason: String,
    },
}

impl PlanError {
    pub(crate) fn help(&self) -> Option<String> {
        match self {
            PlanError::UnknownTask {
                suggestion, known, ..
            } => suggestion
                .as_ref()
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("known tasks: {}", known.join(", ")))),
            PlanError::MissingArgument { task, arg } => {
                Some(format!("devloop {task} <{arg}>  (or {arg}=VALUE)"))
            }
            _ => None,
        }
    }
}

const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn find_task<'a>(config: &'a Config, name: &str) -> Result<&'a Task, PlanError> {
    config
        .tasks
        .get(name)
        .ok_or_else(|| PlanError::UnknownTask {
            name: name.to_owned(),
            suggestion: closest(name, config.tasks.keys().map(String::as_str)).map(str::to_owned),
            known: config.tasks.keys().cloned().collect(),
        })
}

/// Binds the typed values to the task's arguments. A missing value is asked of `ask`
/// (a prompt on a terminal), then taken from the default; every value is checked.
pub(crate) fn bind_args(
    task: &Task,
    given: &[String],
    ask: &mut dyn FnMut(&ArgSpec) -> Option<String>,
) -> Result<BTreeMap<String, String>, PlanError> {
    let mut bound = BTreeMap::new();
    let mut positional = Vec::new();
    for value in given {
        match value.split_once('=') {
            Some((name, v)) if task.args.iter().any(|a| a.name == name) => {
                bound.insert(name.to_owned(), v.to_owned());
            }
            _ => positional.push(value.clone()),
        }
    }
    let mut positional = positional.into_iter();
    for arg in &task.args {
        if bound.contains_key(&arg.name) {
            continue;
        }
        if let Some(v) = positional.next() {
            bound.insert(arg.name.clone(), v);
        }
    }
    if let Some(extra) = positional.next() {
        return Err(PlanError::TooManyArguments {
            task: task.name.clone(),
            takes: task.args.len(),
            got: given.len(),
            extra,
        });
    }
    for arg in &task.args {
        if !bound.contains_key(&arg.name) {
            let value = ask(arg)
                .filter(|v| !v.is_empty())
                .or_else(|| arg.default.clone())
                .ok_or_else(|| PlanError::MissingArgument {
                    task: task.name.clone(),
                    arg: arg.name.clone(),
                })?;
            bound.insert(arg.name.clone(), value);
        }
        check_arg(arg, &bound[&arg.name])?;
    }
    Ok(bound)
}

fn check_arg(arg: &ArgSpec, value: &str) -> Result<(), PlanError> {
    let bad = |reason: String| PlanError::BadArgument {
        arg: arg.name.clone(),
        value: value.to_owned(),
        reason,
    };
    if value.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed".into()));
    }
    match arg.kind {
        ArgKind::Text => Ok(()),
        ArgKind::Host => dns::validate_name(value).map_err(|e| bad(e.to_string())),
        ArgKind::Ipv4 => value
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| bad("not an IPv4 address such as 192.0.2.1".into())),
        ArgKind::Address => {
            if value.parse::<Ipv4Addr>().is_ok() {
                Ok(())
            } else {
                dns::validate_name(value).map_err(|e| bad(e.to_string()))
            }
        }
    }
}

/// Expands `task` with its bound arguments into the steps to run, prerequisites first.
pub(crate) fn plan(
    config: &Config,
    task: &Task,
    args: BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    let mut order = Vec::new();
    visit(config, task, &mut Vec::new(), &mut order)?;
    let mut steps = Vec::new();
    for name in &order {
        let current = &config.tasks[name.as_str()];
        let prerequisite = current.name != task.name;
        for step in &current.steps {
            let expanded = expand_step(config, current, step.get_ref(), &args, &[])?;
            steps.extend(expanded.into_iter().map(|(name, action)| PlannedStep {
                task: current.name.clone(),
                name: substitute(&name, &args),
                gate: prerequisite || matches!(action, Action::Construct { .. }),
                action,
            }));
        }
    }
    Ok(Plan {
        task: task.name.clone(),
        steps,
    })
}

/// Depth-first over prerequisites; each task once, before the tasks that need it.
fn visit(
    config: &Config,
    task: &Task,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<(), PlanError> {
    if order.contains(&task.name) {
        return Ok(());
    }
    if path.contains(&task.name) {
        path.push(task.name.clone());
        return Err(PlanError::Cycle(path.join(" -> ")));
    }
    path.push(task.name.clone());
    for dep in &task.deps {
        // validated at load time: every dependency exists
        if let Some(dep_task) = config.tasks.get(dep.get_ref()) {
            visit(config, dep_task, path, order)?;
        }
    }
    path.pop();
    order.push(task.name.clone());
    Ok(())
}

/// `via` is the chain of named checks that led here.
fn expand_step(
    config: &Config,
    task: &Task,
    step: &StepSpec,
    args: &BTreeMap<String, String>,
    via: &[&str],
) -> Result<Vec<(String, Action)>, PlanError> {
    if let Some(each) = &step.each {
        let single = StepSpec {
            each: None,
            ..step.clone()
        };
        let values = each_values(config, each).map_err(|reason| PlanError::BadStep {
            task: task.name.clone(),
            step: step.name.clone().unwrap_or_else(|| step.kind().to_owned()),
            reason,
        })?;
        let mut out = Vec::new();
        for (value, path) in values {
            let mut bound = args.clone();
            bound.insert(each.bind.clone(), value);
            if let Some(path) = path {
                bound.insert(format!("{}_path", each.bind), path);
            }
            for (name, action) in expand_step(config, task, &single, &bound, via)? {
                out.push((substitute(&name, &bound), action));
            }
        }
        return Ok(out);
    }
    if let Some(mode) = step.construct {
        let label = step.name.clone().unwrap_or_else(|| match mode {
            ConstructMode::Check => "construct --check".to_owned(),
            ConstructMode::Write => "construct".to_owned(),
        });
        return Ok(vec![(
            label,
            Action::Construct {
                write: mode == ConstructMode::Write,
            },
        )]);
    }
    if let Some(check) = &step.check {
        let referenced = config
            .checks
            .get(check)
            .map(|s| s.get_ref())
            .ok_or_else(|| PlanError::BadStep {
                task: task.name.clone(),
                step: check.clone(),
                reason: "no such check".into(),
            })?;
        // Loading refuses circles of checks; this keeps a plan finite whatever it is given.
        if via.contains(&check.as_str()) {
            let mut circle: Vec<&str> = via.to_vec();
            circle.push(check);
            return Err(PlanError::CheckCycle(circle.join(" -> ")));
        }
        let mut chain = via.to_vec();
        chain.push(check);
        let mut expanded = expand_step(config, task, referenced, args, &chain)?;
        if let [(name, _)] = expanded.as_mut_slice() {
            *name = step
                .name
                .clone()
                .or_else(|| referenced.name.clone())
                .unwrap_or_else(|| check.clone());
        }
        return Ok(expanded);
    }
    let bad_step = |reason: String| PlanError::BadStep {
        task: task.name.clone(),
        step: step.name.clone().unwrap_or_else(|| step.kind().to_owned()),
        reason,
    };
    let fill = |text: &str| substitute(text, args);
    let dns_name = |text: &str| -> Result<String, PlanError> {
        let name = fill(text);
        dns::validate_name(&name).map_err(|e| blame_argument(text, args, &name, e.to_string()))?;
        Ok(name)
    };

    if step.dns.is_some() || step.rbl.is_some() {
        let (name, kind) = if let Some(text) = &step.dns {
            let kind = step.record.map_or(RecordKind::A, |r| r.0);
            (dns_name(text)?, kind)
        } else {
            let subject = fill(step.rbl.as_deref().unwrap_or_default());
            let zone = fill(step.zone.as_deref().unwrap_or_default());
            let name = dns::rbl_name(&subject, &zone).map_err(|e| {
                blame_argument(
                    step.rbl.as_deref().unwrap_or_default(),
                    args,
                    &subject,
                    e.to_string(),
                )
            })?;
            (name, RecordKind::A)
        };
        let expect = expectations(step)?;
        let label = step
            .name
            .clone()
            .unwrap_or_else(|| format!("{name} {kind}"));
        let check = DnsCheck {
            port: dns_port(config, step).map_err(bad_step)?,
            transport: transport(step),
            timeout: step.timeout.map_or(DEFAULT_DNS_TIMEOUT, |t| t.0),
            name,
            kind,
            expect,
        };
        return Ok(vec![(label, Action::Dns(check))]);
    }
    if let Some(zone) = &step.rfc5782 {
        let zone = fill(zone);
        let port = dns_port(config, step).map_err(bad_step)?;
        let (listed, unlisted) = match step.list.unwrap_or(RblList::Ipv4) {
            RblList::Ipv4 => ("127.0.0.2", "127.0.0.1"),
            RblList::Domain => ("test", "invalid"),
        };
        let base = step.name.clone().unwrap_or_else(|| "RFC 5782".to_owned());
        let mut out = Vec::new();
        for (subject, expect) in [
            (
                listed,
                vec![Expectation::AnyOf(vec!["127.0.0.2".to_owned()])],
            ),
            (unlisted, vec![Expectation::NxDomain]),
        ] {
            let name = dns::rbl_name(subject, &zone).map_err(|e| bad_step(e.to_string()))?;
            let verdict = if expect.len() == 1 && matches!(expect[0], Expectation::NxDomain) {
                "not listed"
            } else {
                "listed"
            };
            out.push((
                format!("{base}: {subject} {verdict}"),
                Action::Dns(DnsCheck {
                    name,
                    kind: RecordKind::A,
                    port,
                    transport: transport(step),
                    expect,
                    timeout: step.timeout.map_or(DEFAULT_DNS_TIMEOUT, |t| t.0),
                }),
            ));
        }
        return Ok(out);
    }
    let command = |argv: &[String], timeout| CommandCheck {
        argv: argv.iter().map(|a| fill(a)).collect(),
        env: step
            .env
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        status: step.status.unwrap_or(0),
        pattern: step.pattern.clone(),
        no_match: step.no_match.clone(),
        timeout,
    };
    let timeout = step.timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.0);
    if let Some(argv) = &step.exec {
        if argv.is_empty() {
            return Err(bad_step("`exec` needs a command".into()));
        }
        let mut check = command(argv, timeout);
        // As on the host: arguments reach the command as environment variables.
        check
            .env
            .extend(args.iter().map(|(k, v)| (k.clone(), v.clone())));
        let label = step.name.clone().unwrap_or_else(|| check.argv.join(" "));
        return Ok(vec![(label, Action::Exec(check))]);
    }
    if let Some(method) = &step.method {
        let label = step
            .name
            .clone()
            .unwrap_or_else(|| format!("{} method", method.to_uppercase()));
        return Ok(vec![(
            label,
            Action::Method {
                method: method.to_uppercase(),
                check: command(&[], timeout),
            },
        )]);
    }
    let mut check = if let Some(argv) = &step.run {
        if argv.is_empty() {
            return Err(bad_step("`run` needs a command".into()));
        }
        command(argv, timeout)
    } else {
        command(&["sh".to_owned(), "-c".to_owned()], timeout)
    };
    // Arguments reach host commands as environment variables, never as shell text.
    check
        .env
        .extend(args.iter().map(|(k, v)| (k.clone(), v.clone())));
    let script = step.sh.clone();
    if let Some(script) = &script {
        check.argv.push(script.clone());
    }
    let label = step.name.clone().unwrap_or_else(|| match &script {
        Some(s) => s.lines().next().unwrap_or_default().to_owned(),
        None => check.argv.join(" "),
    });
    Ok(vec![(label, Action::Host(HostCommand { check, script }))])
}

/// The values an `each` step repeats over: (value, path for globs), sorted.
fn each_values(config: &Config, each: &EachSpec) -> Result<Vec<(String, Option<String>)>, String> {
    if let Some(pattern) = &each.glob {
        let files = PathSet::new(std::slice::from_ref(pattern))
            .map_err(|(_, why)| format!("`each.glob` = `{pattern}` {why}"))?
            .files_under(&config.root);
        if files.is_empty() {
            return Err(format!("`{pattern}` matches no files"));
        }
        let out = files
            .into_iter()
            .map(|path| {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (stem, Some(path.to_string_lossy().into_owned()))
            })
            .collect();
        return Ok(out);
    }
    let key = each.scope.as_deref().unwrap_or_default();
    let construct = config
        .construct
        .as_ref()
        .ok_or("`each.scope` needs a [construct] table")?;
    let scope = crate::construct::load_scope(&config.root, construct).map_err(|e| e.to_string())?;
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or_default();
    let mut value = scope
        .get(first)
        .ok_or_else(|| format!("the scope has no `{first}`"))?;
    for part in parts {
        value = value
            .get(part)
            .ok_or_else(|| format!("the scope has no `{key}`"))?;
    }
    let matches = |item: &serde_yaml_ng::Value| {
        each.filter.iter().all(|(field, wanted)| {
            item.get(field.as_str()).and_then(scalar).as_deref() == Some(wanted.as_str())
        })
    };
    let out: Vec<(String, Option<String>)> = match value {
        serde_yaml_ng::Value::Mapping(map) => map
            .iter()
            .filter(|(_, item)| matches(item))
            .filter_map(|(k, _)| scalar(k))
            .map(|k| (k, None))
            .collect(),
        serde_yaml_ng::Value::Sequence(items) => items
            .iter()
            .filter(|item| matches(item))
            .filter_map(|item| scalar(item).or_else(|| item.get("name").and_then(scalar)))
            .map(|k| (k, None))
            .collect(),
        _ => {
            return Err(format!(
                "the scope's `{key}` is neither a mapping nor a list"
            ));
        }
    };
    Ok(out)
}

fn scalar(value: &serde_yaml_ng::Value) -> Option<String> {
    match value {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A name that is not a valid DNS name is the user's argument's fault when one went into it.
fn blame_argument(
    template: &str,
    args: &BTreeMap<String, String>,
    name: &str,
    reason: String,
) -> PlanError {
    let used = crate::config::placeholders(template);
    match used.first().and_then(|arg| args.get(arg).map(|v| (arg, v))) {
        Some((arg, value)) => PlanError::BadArgument {
            arg: arg.clone(),
            value: value.clone(),
            reason: format!("it would make the DNS name {name:?}, which is invalid: {reason}"),
        },
        None => PlanError::BadArgument {
            arg: "name".into(),
            value: name.to_owned(),
            reason,
        },
    }
}

/// Replaces `{arg}` with the argument's value; `{{` and `}}` stand for braces.
pub(crate) fn substitute(text: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(close) = tail.find('}').filter(|_| tail.starts_with('{')) {
            let name = &tail[1..close];
            if let Some(value) = args.get(name) {
                out.push_str(value);
                rest = &tail[close + 1..];
                continue;
            }
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// `tcp = true` asks over TCP, `tcp = false` over UDP only; by default UDP, and TCP when
/// the answer is truncated.
fn transport(step: &StepSpec) -> Transport {
    match step.tcp {
        Some(true) => Transport::Tcp,
        Some(false) => Transport::Udp,
        None => Transport::UdpThenTcp,
    }
}

/// The container port a DNS step asks: its own, the readiness probe's, or the service's
/// first UDP port.
fn dns_port(config: &Config, step: &StepSpec) -> Result<ContainerPort, String> {
    let service = config
        .service
        .as_ref()
        .ok_or("a DNS check needs a [service]")?;
    service.dns_port(step.port).ok_or_else(|| {
        "no port to ask: set `port` on the step or `ports` on the service".to_owned()
    })
}

fn expectations(step: &StepSpec) -> Result<Vec<Expectation>, PlanError> {
    let mut out = Vec::new();
    match &step.expect {
        Some(ExpectSpec::One(word)) => out.push(match word.to_ascii_lowercase().as_str() {
            "nxdomain" => Expectation::NxDomain,
            "nodata" => Expectation::NoData,
            "answer" | "listed" => Expectation::Answered,
            _ => Expectation::Records(vec![word.clone()]),
        }),
        Some(ExpectSpec::Many(records)) => out.push(Expectation::Records(records.clone())),
        None => {}
    }
    if let Some(any) = &step.any_of {
        out.push(Expectation::AnyOf(any.clone()));
    }
    if let Some(pattern) = &step.pattern {
        out.push(Expectation::Pattern(pattern.0.clone()));
    }
    if let Some(rcode) = &step.rcode {
        out.push(Expectation::Rcode(rcode.to_ascii_uppercase()));
    }
    if let Some(ttl) = step.ttl {
        out.push(Expectation::Ttl(ttl));
    }
    if step.rbl.is_some() {
        out.push(if step.listed.unwrap_or(true) {
            Expectation::Answered
        } else {
            Expectation::NxDomain
        });
    }
    if out.is_empty() {
        out.push(Expectation::Answered);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use std::path::Path;
    use toml::Spanned;

    const LISTED: &str = "sh8.mailingliststart.com";

    fn load(text: &str) -> Config {
        config::parse(Path::new("devloop.toml"), text.to_owned()).expect("valid config")
    }

    const CONFIG: &str = r#"
[service]
image = "rbl"
ports = ["5301/udp"]

[check.reason]
dns = "{host}.senderhost.bl.rbl"
type = "TXT"
match = "spam"

[task.prepare]
steps = [{ run = ["true"] }]

[task."test:host"]
deps = ["prepare"]
args = [{ name = "host", prompt = "Host name to test" }]
steps = [
  { name = "black list", dns = "{host}.senderhost.bl.rbl", type = "A", expect = ["127.0.0.2"] },
  { check = "reason" },
  { name = "white list", dns = "{host}.senderhost.wl.rbl", expect = "nxdomain" },
  { name = "echo", sh = "echo \"$host\"" },
]

[task.ip]
args = [{ name = "ip", kind = "ipv4" }]
steps = [{ rbl = "{ip}", zone = "ip.bl.rbl", listed = false }, { rfc5782 = "ip.bl.rbl" }]
"#;

    fn no_prompt(_: &ArgSpec) -> Option<String> {
        None
    }

    fn plan_for(config: &Config, task: &str, given: &[&str]) -> Result<Plan, PlanError> {
        let task = find_task(config, task)?;
        let given: Vec<String> = given.iter().map(|s| (*s).to_owned()).collect();
        let args = bind_args(task, &given, &mut no_prompt)?;
        plan(config, task, args)
    }

    #[test]
    fn expands_prerequisites_checks_and_arguments() {
        let config = load(CONFIG);
        let plan = plan_for(&config, "test:host", &["sh8.mailingliststart.com"]).expect("plan");
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["true", "black list", "reason", "white list", "echo"]
        );
        assert!(plan.steps[0].gate);
        assert!(!plan.steps[1].gate);
        let Action::Dns(check) = &plan.steps[1].action else {
            panic!("dns step expected")
        };
        assert_eq!(check.name, "sh8.mailingliststart.com.senderhost.bl.rbl");
        assert_eq!(
            check.port,
            ContainerPort {
                port: 5301,
                udp: true
            }
        );
        let Action::Dns(reason) = &plan.steps[2].action else {
            panic!("dns step expected")
        };
        assert_eq!(reason.kind, RecordKind::Txt);
        let Action::Host(echo) = &plan.steps[4].action else {
            panic!("host step expected")
        };
        assert_eq!(echo.check.argv, ["sh", "-c", "echo \"$host\""]);
        assert!(
            echo.check
                .env
                .contains(&("host".to_owned(), "sh8.mailingliststart.com".to_owned()))
        );
        assert!(plan.steps.iter().any(|s| s.action.needs_service()));
    }

    #[test]
    fn hostile_arguments_never_become_names() {
        let config = load(CONFIG);
        for hostile in ["$(touch /tmp/pwned)", "a;b", "a b", "`id`", "x\ny"] {
            match plan_for(&config, "test:host", &[hostile]) {
                Err(PlanError::BadArgument { arg, value, .. }) => {
                    assert_eq!(arg, "host");
                    assert_eq!(value, hostile);
                }
                other => panic!("{hostile:?} was accepted: {other:?}"),
            }
        }
    }

    #[test]
    fn named_arguments_and_prompts() {
        let config = load(CONFIG);
        let task = find_task(&config, "test:host").expect("task");
        let args = bind_args(task, &["host=a.example".to_owned()], &mut no_prompt).expect("bound");
        assert_eq!(args["host"], "a.example");
        let mut asked = Vec::new();
        let args = bind_args(task, &[], &mut |arg: &ArgSpec| {
            asked.push(arg.prompt.clone());
            Some("b.example".into())
        })
        .expect("bound");
        assert_eq!(args["host"], "b.example");
        assert_eq!(asked, [Some("Host name to test".to_owned())]);
        assert!(matches!(
            bind_args(task, &[], &mut no_prompt),
            Err(PlanError::MissingArgument { .. })
        ));
        assert!(matches!(
            bind_args(task, &["a".into(), "b".into()], &mut no_prompt),
            Err(PlanError::TooManyArguments { .. })
        ));
    }

    #[test]
    fn rbl_lookups_reverse_ipv4_octets() {
        let config = load(CONFIG);
        let plan = plan_for(&config, "ip", &["192.0.2.1"]).expect("plan");
        let Action::Dns(check) = &plan.steps[0].action else {
            panic!("dns step expected")
        };
        assert_eq!(check.name, "1.2.0.192.ip.bl.rbl");
        assert!(matches!(check.expect[..], [Expectation::NxDomain]));
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names[1..],
            [
                "RFC 5782: 127.0.0.2 listed",
                "RFC 5782: 127.0.0.1 not listed"
            ]
        );
        assert!(matches!(
            plan_for(&config, "ip", &["sh8.example"]),
            Err(PlanError::BadArgument { .. })
        ));
    }

    #[test]
    fn unknown_tasks_are_reported() {
        let config = load(CONFIG);
        match plan_for(&config, "tset:host", &[]) {
            Err(e @ PlanError::UnknownTask { .. }) => {
                assert_eq!(e.help().as_deref(), Some("did you mean `test:host`?"));
            }
            other => panic!("expected unknown task, got {other:?}"),
        }
    }

    /// Loading refuses circles (see config's tests); a plan stays finite even when given
    /// a config that has one.
    #[test]
    fn circles_are_reported_not_followed_forever() {
        let mut config = load(CONFIG);
        let prepare = config.tasks.get_mut("prepare").expect("prepare");
        prepare
            .deps
            .push(Spanned::new(0..0, "test:host".to_owned()));
        match plan_for(&config, "test:host", &[LISTED]) {
            Err(PlanError::Cycle(path)) => assert_eq!(path, "test:host -> prepare -> test:host"),
            other => panic!("expected a cycle, got {other:?}"),
        }

        let mut config = load(CONFIG);
        let reason = config.checks.get_mut("reason").expect("reason");
        *reason = Spanned::new(
            0..0,
            StepSpec {
                check: Some("reason".into()),
                ..StepSpec::default()
            },
        );
        match plan_for(&config, "test:host", &[LISTED]) {
            Err(PlanError::CheckCycle(path)) => assert_eq!(path, "reason -> reason"),
            other => panic!("expected a circle of checks, got {other:?}"),
        }
    }

    #[test]
    fn each_glob_is_a_gitignore_pattern_whose_star_stays_in_its_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in [
            "zones/a.zone",
            "zones/b.zone",
            "zones/sub/c.zone",
            "zones/README",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "").expect("write");
        }
        let text = "[task.t]\nsteps = [{ name = \"{zone}\", run = [\"echo\", \"{zone_path}\"], each = { glob = \"zones/*.zone\", as = \"zone\" } }]\n";
        let config =
            config::parse(&dir.path().join("devloop.toml"), text.to_owned()).expect("valid");
        let plan = plan_for(&config, "t", &[]).expect("plan");
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let Action::Host(first) = &plan.steps[0].action else {
            panic!("host step expected")
        };
        assert_eq!(first.check.argv, ["echo", "zones/a.zone"]);
    }

    #[test]
    fn substitution_handles_braces() {
        let args = BTreeMap::from([("host".to_owned(), "h".to_owned())]);
        assert_eq!(
            substitute("{host}.bl {{x}} {other}", &args),
            "h.bl {x} {other}"
        );
    }
}
