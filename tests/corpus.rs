//! A corpus of bad input, each case with the exit code and a fragment of the message an
//! operator must get: mistakes in `devloop.toml`, hostile or wrong task arguments and
//! flags, and zone data the daemons reject.
//!
//! Config and argument mistakes end with exit 2 before anything starts: they need no
//! engine, and the engine's event log is asked afterwards that no container of theirs
//! was ever created. Zone data is judged by the real rbldnsd and named, through the
//! examples' own checks and `fail_on_log`.

mod common;

use std::time::Duration;

use common::{LISTED, Project, WorkTree, containers_created, now, require_docker, unique_name};

/// How long a mistake may take to be reported: the design's target is 20 ms; this only
/// catches a hang (a FIFO read, a probe waited out).
const PROMPT: Duration = Duration::from_secs(5);

/// One change to a fresh copy of the rbldnsd example.
#[derive(Clone, Copy)]
enum Edit {
    /// Replaces the line of devloop.toml that starts with the first text.
    Line(&'static str, &'static str),
    /// Replaces the one occurrence of the first text in devloop.toml.
    Swap(&'static str, &'static str),
    /// Appends to devloop.toml.
    Append(&'static str),
    /// Replaces devloop.toml; `@NAME@` becomes the corpus's project name.
    Whole(&'static str),
    /// Writes a file of the project.
    Write(&'static str, &'static [u8]),
    /// Makes a symlink (path, target).
    Link(&'static str, &'static str),
    /// Removes a file of the project.
    Remove(&'static str),
    /// Makes a directory.
    Dir(&'static str),
    /// Makes a FIFO.
    Fifo(&'static str),
}

use Edit::{Append, Dir, Fifo, Line, Link, Remove, Swap, Whole, Write};

struct Case {
    what: &'static str,
    edits: &'static [Edit],
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const fn case(
    what: &'static str,
    edits: &'static [Edit],
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
) -> Case {
    Case {
        what,
        edits,
        args,
        code,
        says,
    }
}

const HOST: &[&str] = &["test:host", LISTED];
const LIST: &[&str] = &["list"];

/// Mistakes in devloop.toml: exit 2, the message says what is wrong.
#[rustfmt::skip]
const CONFIG: &[Case] = &[
    case("a misspelt key", &[Line("image = ", "imgae = \"devloop-example/rbldnsd:latest\"")], HOST, 2, "unknown key `imgae`"),
    case("a misspelt table", &[Append("[sevrice]\nimage = \"x\"\n")], LIST, 2, "did you mean `service`"),
    case("a misspelt step key", &[Append("[check.x]\ndsn = \"a.bl.rbl\"\n")], LIST, 2, "did you mean `dns`"),
    case("a bare word for a string", &[Line("pull ", "pull  = missing")], HOST, 2, "string values must be quoted"),
    case("an unterminated string", &[Line("pull ", "pull  = \"missing")], LIST, 2, "invalid basic string"),
    case("a table twice", &[Append("[service]\nimage = \"x\"\n")], LIST, 2, "duplicate"),
    case("a string where a list belongs", &[Line("ports ", "ports = \"5301/udp\"")], HOST, 2, "invalid type"),
    case("a port protocol that is none", &[Line("ports ", "ports = [\"5301/sctp\"]")], HOST, 2, "unknown protocol `sctp`"),
    case("port 0", &[Line("ports ", "ports = [\"0/udp\"]")], HOST, 2, "is not a container port"),
    case("port 65536", &[Line("ports ", "ports = [\"65536/udp\"]")], HOST, 2, "is not a container port"),
    case("a duration in parsecs", &[Line("ready ", "ready = { dns = \"5301/udp\", timeout = \"5 parsecs\" }")], HOST, 2, "unknown unit `parsecs`"),
    case("a duration that is no number", &[Line("ready ", "ready = { dns = \"5301/udp\", timeout = \"soon\" }")], HOST, 2, "is not a duration"),
    case("a duration too long for a float", &[Line("ready ", "ready = { dns = \"5301/udp\", timeout = \"99999999999999999999999s\" }")], HOST, 2, "the longest duration accepted is 86400s"),
    case("a duration too long for a deadline", &[Line("ready ", "ready = { dns = \"5301/udp\", timeout = \"10000000000000000000s\" }")], HOST, 2, "the longest duration accepted is 86400s"),
    case("a step timeout of a year", &[Append("[task.slow]\nsteps = [{ sh = \"true\", timeout = \"525600m\" }]\n")], LIST, 2, "is too long"),
    case("a reload timeout too long", &[Line("reload ", "reload = { signal = \"HUP\", timeout = \"86401s\" }")], LIST, 2, "is too long"),
    case("a watch debounce too long", &[Append("debounce = \"1441m\"\n")], LIST, 2, "is too long"),
    case("a watch on_busy that is none", &[Append("on_busy = \"restart\"\n")], LIST, 2, "unknown value `restart`"),
    case("two readiness probes", &[Line("ready ", "ready = { dns = \"5301/udp\", tcp = \"5301/tcp\" }")], HOST, 2, "`ready` needs exactly one probe"),
    case("no readiness probe", &[Line("ready ", "ready = { timeout = \"5s\" }")], HOST, 2, "`ready` needs exactly one probe"),
    case("a probe of an unpublished port", &[Line("ready ", "ready = { dns = \"5302/udp\", name = \"test.senderhost.bl.rbl\" }")], HOST, 2, "`ready` probes 5302/udp, which the service does not publish (ports = [\"5301/udp\"])"),
    case("a TCP probe of a UDP-only service", &[Line("ready ", "ready = { tcp = \"5301/tcp\" }")], HOST, 2, "probes 5301/tcp, which the service does not publish"),
    case("an empty exec probe", &[Line("ready ", "ready = { exec = [] }")], HOST, 2, "`ready.exec` is an empty command"),
    case("a relative mount", &[Line("mount ", "mount = \"relative/path\"")], HOST, 2, "must be an absolute path in the container"),
    case("a mount mode that is none", &[Line("mount ", "mount = \"/service\"\nmount_mode = \"rx\"")], HOST, 2, "unknown value `rx`"),
    case("a pull policy that is none", &[Line("pull ", "pull = \"sometimes\"")], HOST, 2, "unknown value `sometimes`"),
    case("an empty command", &[Line("mount ", "mount = \"/service\"\ncommand = []")], HOST, 2, "`service.command` is empty"),
    case("a reload by signal and exec", &[Line("reload ", "reload = { signal = \"HUP\", exec = [\"true\"] }")], LIST, 2, "exactly one of `signal` or `exec`"),
    case("a signal that is none", &[Line("reload ", "reload = { signal = \"HUPP\" }")], LIST, 2, "`HUPP` is not a signal"),
    case("a log pattern that does not compile", &[Line("fail_on_log ", "fail_on_log = [\"(unclosed\"]")], HOST, 2, "invalid pattern"),
    case("a check that refers to itself", &[Append("[check.loop]\ncheck = \"loop\"\n")], HOST, 2, "check `loop` refers to itself"),
    case("a circle of checks", &[Append("[check.ping]\ncheck = \"pong\"\n[check.pong]\ncheck = \"ping\"\n")], HOST, 2, "checks refer to each other in a circle: ping -> pong -> ping"),
    case("a circle of tasks", &[Append("[task.a]\ndeps = [\"b\"]\n[task.b]\ndeps = [\"a\"]\n")], HOST, 2, "tasks depend on each other in a circle: a -> b -> a"),
    case("a task that needs itself", &[Append("[task.me]\ndeps = [\"me\"]\n")], LIST, 2, "task `me` depends on itself"),
    case("a prerequisite that is not defined", &[Append("[task.all]\ndeps = [\"test:hots\"]\n")], LIST, 2, "did you mean `test:host`"),
    case("a check that is not defined", &[Append("[task.x]\nsteps = [{ check = \"blacklistd\" }]\n")], LIST, 2, "did you mean `blacklisted`"),
    case("a step of two kinds", &[Append("[task.x]\nsteps = [{ dns = \"a.bl.rbl\", exec = [\"true\"] }]\n")], LIST, 2, "found dns and exec"),
    case("a step of no kind", &[Append("[task.x]\nsteps = [{ name = \"nothing\" }]\n")], LIST, 2, "found none"),
    case("a key that does not apply", &[Append("[task.x]\nsteps = [{ dns = \"a.bl.rbl\", status = 0 }]\n")], LIST, 2, "`status` does not apply to a `dns` step"),
    case("an rbl step without a zone", &[Append("[task.x]\nsteps = [{ rbl = \"192.0.2.1\" }]\n")], LIST, 2, "needs `zone`"),
    case("a dns step without a service", &[Whole("[project]\nname = \"@NAME@\"\n[task.x]\nsteps = [{ dns = \"a.example\" }]\n")], LIST, 2, "needs a [service] to run against"),
    case("a construct step without [construct]", &[Append("[task.x]\nsteps = [{ construct = \"check\" }]\n")], LIST, 2, "needs a [construct] table"),
    case("each with glob and scope", &[Append("[task.x]\nsteps = [{ sh = \"true\", each = { glob = \"zones/*\", scope = \"z\", as = \"z\" } }]\n")], LIST, 2, "exactly one of `glob` or `scope`"),
    case("each over a scope that is not there", &[Append("[task.x]\nsteps = [{ sh = \"true\", each = { scope = \"zones\", as = \"z\" } }]\n")], LIST, 2, "there is no [construct] table"),
    case("each over a glob that climbs out", &[Append("[task.x]\nsteps = [{ sh = \"true\", each = { glob = \"../*.zone\", as = \"zone\" } }]\n")], LIST, 2, "has a `..` component"),
    case("each binding a name that is none", &[Append("[task.x]\nsteps = [{ sh = \"true\", each = { glob = \"zones/*\", as = \"a zone\" } }]\n")], LIST, 2, "cannot be a placeholder name"),
    case("a misspelt placeholder in a check", &[Swap("dns    = \"{host}.senderhost.wl.rbl\"", "dns    = \"{hots}.senderhost.wl.rbl\"")], LIST, 2, "check `not-whitelisted` uses `{hots}`, which names no argument of task `test:host` (its arguments: `host`)"),
    case("a misspelt placeholder in a step", &[Append("[task.x]\nargs = [{ name = \"host\" }]\nsteps = [{ dns = \"{hots}.bl.rbl\" }]\n")], LIST, 2, "`{hots}` names no argument of task `x` (its arguments: `host`)"),
    case("a check's placeholder the task does not bind", &[Append("[task.fixed]\nsteps = [{ check = \"blacklisted\" }]\n")], LIST, 2, "check `blacklisted` uses `{host}`, which names no argument of task `fixed` (it takes none)"),
    case("an argument pasted into sh", &[Append("[task.x]\nargs = [{ name = \"host\" }]\nsteps = [{ sh = \"dig {host}\" }]\n")], LIST, 2, "would paste a task argument into shell text"),
    case("an argument pasted into sh -c", &[Append("[task.x]\nargs = [{ name = \"host\" }]\nsteps = [{ run = [\"bash\", \"-ec\", \"dig {host}\"] }]\n")], LIST, 2, "would paste a task argument into shell text"),
    case("a step port the service does not publish", &[Append("[task.x]\nsteps = [{ dns = \"a.bl.rbl\", port = \"5302/udp\" }]\n")], LIST, 2, "the step asks 5302/udp, which the service does not publish"),
    case("TCP asked of a UDP-only service", &[Append("[task.x]\nsteps = [{ dns = \"a.bl.rbl\", tcp = true }]\n")], LIST, 2, "`tcp = true` asks over TCP, and the service does not publish 5301/tcp"),
    case("a port variable of an unpublished port", &[Append("[task.x]\nsteps = [{ sh = \"dig -p $DEVLOOP_PORT_5302_UDP @127.0.0.1 a\" }]\n")], LIST, 2, "`DEVLOOP_PORT_5302_UDP` names 5302/udp, which the service does not publish"),
    case("a port variable of no protocol", &[Append("[task.x]\nsteps = [{ sh = \"echo $DEVLOOP_PORT_5301_SCTP\" }]\n")], LIST, 2, "is no port variable"),
    case("a task name with a space", &[Append("[task.\"test host\"]\nsteps = []\n")], LIST, 2, "is not a task name"),
    case("an argument name in capitals", &[Swap("{ name = \"host\",", "{ name = \"HOST\",")], LIST, 2, "`HOST` is not an argument name"),
    case("an argument declared twice", &[Append("[task.x]\nargs = [{ name = \"a\" }, { name = \"a\" }]\n")], LIST, 2, "declares the argument `a` twice"),
    case("an argument kind that is none", &[Swap("kind = \"host\"", "kind = \"hots\"")], LIST, 2, "did you mean `host`"),
    case("a record type that is none", &[Append("[check.x]\ndns = \"a.bl.rbl\"\ntype = \"AA\"\n")], LIST, 2, "unknown record type \"AA\""),
    case("an expectation that is a number", &[Append("[check.x]\ndns = \"a.bl.rbl\"\nexpect = 2\n")], LIST, 2, "`expect` must be a string"),
    case("a negative TTL", &[Append("[check.x]\ndns = \"a.bl.rbl\"\nttl = -1\n")], LIST, 2, "integer `-1`, expected u32"),
    case("a status that is a string", &[Append("[check.x]\nexec = [\"true\"]\nstatus = \"0\"\n")], LIST, 2, "invalid type"),
    case("an empty exec", &[Append("[check.x]\nexec = []\n")], LIST, 2, "`exec` is an empty command"),
    case("an empty run", &[Append("[task.x]\nsteps = [{ run = [] }]\n")], LIST, 2, "`run` is an empty command"),
    case("a run script outside the project", &[Append("[task.x]\nsteps = [{ run = [\"../../bin/evil\"] }]\n")], LIST, 2, "the program `../../bin/evil` leads out of the project directory"),
    case("a construct output that climbs out", &[Append("[construct]\nscope = \"zones.yaml\"\noutputs = [{ template = \"t.j2\", output = \"../../../x\" }]\n")], LIST, 2, "`construct.outputs[0].output` = `../../../x` leads out of the project directory"),
    case("an absolute construct output", &[Append("[construct]\nscope = \"zones.yaml\"\noutputs = [{ template = \"t.j2\", output = \"/tmp/x\" }]\n")], LIST, 2, "`construct.outputs[0].output` = `/tmp/x` is an absolute path"),
    case("a construct output through a symlink", &[Link("conf", "/tmp"), Append("[construct]\nscope = \"zones.yaml\"\noutputs = [{ template = \"t.j2\", output = \"conf/x\" }]\n")], LIST, 2, "through the symlink conf -> /tmp"),
    case("a template outside the project", &[Append("[construct]\nscope = \"zones.yaml\"\noutputs = [{ template = \"../t.j2\", output = \"x\" }]\n")], LIST, 2, "`construct.outputs[0].template` = `../t.j2` leads out"),
    case("a scope file outside the project", &[Append("[construct]\nscope = \"/etc/passwd\"\noutputs = []\n")], LIST, 2, "`construct.scope` = `/etc/passwd` is an absolute path"),
    case("an output mode that is not octal", &[Append("[construct]\nscope = \"zones.yaml\"\noutputs = [{ template = \"t.j2\", output = \"x\", mode = \"0999\" }]\n")], LIST, 2, "`0999` is not a file mode"),
    case("watch paths that climb out", &[Swap("paths = [\"zones\"]", "paths = [\"zones\", \"../other\"]")], LIST, 2, "`watch.paths[1]` = `../other` has a `..` component"),
    case("hook paths that are no pattern", &[Append("[hook]\npaths = [\"zones/{a\"]\n")], LIST, 2, "`hook.paths[0]` = `zones/{a` is not a pattern"),
    case("devloop.toml is a directory", &[Remove("devloop.toml"), Dir("devloop.toml")], LIST, 2, "devloop.toml is a directory"),
    case("devloop.toml is a FIFO", &[Remove("devloop.toml"), Fifo("devloop.toml")], HOST, 2, "devloop.toml is a FIFO"),
    case("devloop.toml is a symlink loop", &[Remove("devloop.toml"), Link("devloop.toml", "devloop.toml")], LIST, 2, "is a symlink loop"),
    case("devloop.toml is a broken symlink", &[Remove("devloop.toml"), Link("devloop.toml", "gone.toml")], LIST, 2, "is a symlink to gone.toml, which does not exist"),
    case("devloop.toml is not UTF-8", &[Write("devloop.toml", b"[service]\nimage = \"\xff\xfe\"\n")], LIST, 2, "devloop.toml:2:10: not UTF-8 text"),
    case("arrays nested past all reason", &[Write("devloop.toml", &[b'['; 300_000])], LIST, 2, "devloop.toml:1:"),
    case("an empty devloop.toml and a task", &[Write("devloop.toml", b"")], HOST, 2, "no task named `test:host`"),
];

/// Task arguments, unknown tasks and flags: exit 2, nothing started.
#[rustfmt::skip]
const ARGUMENTS: &[Case] = &[
    case("command substitution as a host", &[], &["test:host", "$(touch /tmp/devloop-corpus-pwned)"], 2, "invalid host \"$(touch /tmp/devloop-corpus-pwned)\""),
    case("a semicolon in a host", &[], &["test:host", "a;b"], 2, "';' is a shell metacharacter"),
    case("a space in a host", &[], &["test:host", "a b"], 2, "invalid host \"a b\""),
    case("backquotes in a host", &[], &["test:host", "`id`"], 2, "invalid host \"`id`\""),
    case("a pipe in a host", &[], &["test:host", "a|b"], 2, "invalid host \"a|b\""),
    case("an ampersand in a host", &[], &["test:host", "a&&b"], 2, "invalid host \"a&&b\""),
    case("a redirection in a host", &[], &["test:host", "a>/tmp/x"], 2, "invalid host"),
    case("a newline in a host", &[], &["test:host", "x\ny"], 2, "control characters are not allowed"),
    case("an escape character in a host", &[], &["test:host", "x\u{1b}[31my"], 2, "control characters are not allowed"),
    case("a DEL in a host", &[], &["test:host", "x\u{7f}y"], 2, "control characters are not allowed"),
    case("a path as a host", &[], &["test:host", "../../etc/passwd"], 2, "invalid host"),
    case("an empty host", &[], &["test:host", ""], 2, "invalid host \"\""),
    case("an empty named host", &[], &["test:host", "host="], 2, "invalid host \"\""),
    case("an empty label", &[], &["test:host", "a..b"], 2, "invalid host \"a..b\""),
    case("a label of 64 characters", &[], &["test:host", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"], 2, "invalid host"),
    case("a name of 300 characters", &[], &["test:host", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"], 2, "invalid host"),
    case("a wildcard as a host", &[], &["test:host", "*.example.com"], 2, "invalid host"),
    case("a non-ASCII host", &[], &["test:host", "exämple.com"], 2, "invalid host"),
    case("one argument too many", &[], &["test:host", "a.example", "b.example"], 2, "one too many"),
    case("a missing argument with no terminal", &[], &["test:host"], 2, "needs the argument `host`"),
    case("a text argument that makes a bad DNS name", &[Append("[task.echo]\nargs = [{ name = \"word\" }]\nsteps = [{ dns = \"{word}.senderhost.bl.rbl\" }]\n")], &["echo", "a;b"], 2, "it would make the DNS name"),
    case("a bad IPv4 address", &[Append("[task.ip]\nargs = [{ name = \"ip\", kind = \"ipv4\" }]\nsteps = [{ rbl = \"{ip}\", zone = \"ip.bl.rbl\" }]\n")], &["ip", "999.1.1.1"], 2, "not an IPv4 address"),
    case("a misspelt task", &[], &["tset:host", LISTED], 2, "did you mean `test:host`"),
    case("a task that is nowhere near", &[], &["zzzzzz"], 2, "known tasks:"),
    case("a task name of 10000 characters", &[], &["@LONG@"], 2, "no task named"),
    case("a flag that is none", &[], &["--frobnicate", "test:host", LISTED], 2, "unexpected argument '--frobnicate'"),
    case("a flag after the task that is none", &[], &["test:host", LISTED, "--frobnicate"], 2, "--frobnicate"),
    case("a format that is none", &[], &["--format", "yaml", "test:host", LISTED], 2, "invalid value 'yaml'"),
    case("a pull policy that is none", &[], &["--pull", "sometimes", "test:host", LISTED], 2, "invalid value 'sometimes'"),
    case("--junit without a file", &[], &["test:host", LISTED, "--junit"], 2, "--junit"),
    case("-C to a directory that is not there", &[], &["-C", "/nonexistent/devloop-corpus", "list"], 2, "no devloop.toml in /nonexistent/devloop-corpus"),
    case("--file that is not there", &[], &["--file", "/nonexistent/devloop-corpus.toml", "list"], 2, "cannot read /nonexistent/devloop-corpus.toml"),
    case("--staged with list", &[], &["--staged", "list"], 2, "--staged applies to task runs"),
    case("construct without [construct]", &[], &["construct"], 2, "this project has no [construct] table"),
    case("watch of a task that is none", &[], &["watch", "tset:host", LISTED], 2, "did you mean `test:host`"),
];

/// Writes the case into a fresh copy of the rbldnsd example, named `name`.
fn set_up(case: &Case, name: &str) -> Project {
    let project = Project::rbldnsd();
    project.replace(
        "devloop.toml",
        &format!("name = \"{}\"", project.name()),
        &format!("name = \"{name}\""),
    );
    for edit in case.edits {
        match *edit {
            Line(start, new) => {
                project.replace_line("devloop.toml", start, new);
            }
            Swap(old, new) => {
                project.replace("devloop.toml", old, new);
            }
            Append(text) => {
                project.append("devloop.toml", &format!("\n{text}"));
            }
            Whole(text) => {
                project.write("devloop.toml", &text.replace("@NAME@", name));
            }
            Write(path, bytes) => {
                std::fs::write(project.file(path), bytes).expect("write");
            }
            Link(path, target) => {
                std::os::unix::fs::symlink(target, project.file(path)).expect("symlink");
            }
            Remove(path) => std::fs::remove_file(project.file(path)).expect("remove"),
            Dir(path) => std::fs::create_dir(project.file(path)).expect("mkdir"),
            Fifo(path) => {
                let status = std::process::Command::new("mkfifo")
                    .arg(project.file(path))
                    .status()
                    .expect("mkfifo");
                assert!(status.success(), "mkfifo");
            }
        }
    }
    project
}

/// Runs every case; all failures are reported together, each with its whole outcome.
fn run_cases(cases: &[Case]) {
    let _docker = require_docker();
    let since = now() - 1.0;
    let name = unique_name("corpus", 20);
    let mut failures = Vec::new();
    for case in cases {
        let project = set_up(case, &name);
        let long = "x".repeat(10_000);
        let args = case
            .args
            .iter()
            .map(|a| if *a == "@LONG@" { long.as_str() } else { a });
        let outcome = project.devloop().args(args).run();
        let code = outcome.status.code();
        let quick = outcome.elapsed <= PROMPT;
        if code != Some(case.code) || !outcome.output().contains(case.says) || !quick {
            failures.push(format!(
                "{}: expected exit {} saying {:?}{}\n{outcome}",
                case.what,
                case.code,
                case.says,
                if quick { "" } else { ", promptly" }
            ));
        }
        if outcome.output().contains("panicked") || code == Some(101) || code == Some(134) {
            failures.push(format!("{}: devloop crashed\n{outcome}", case.what));
        }
    }
    let created = containers_created(&name, since);
    if !created.is_empty() {
        failures.push(format!(
            "bad input made devloop create containers: {created:?}"
        ));
    }
    if std::path::Path::new("/tmp/devloop-corpus-pwned").exists() {
        failures.push("an argument was run as shell code".to_owned());
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn mistakes_in_devloop_toml_are_reported_before_anything_starts() {
    assert!(CONFIG.len() >= 60, "{} config cases", CONFIG.len());
    run_cases(CONFIG);
}

#[test]
fn bad_arguments_tasks_and_flags_are_refused_before_anything_starts() {
    run_cases(ARGUMENTS);
}

/// Zone data the daemon rejects: a rejected line fails the run through `fail_on_log`
/// (rbldnsd keeps serving without it), a broken zone file fails named-checkzone.
struct Zone {
    what: &'static str,
    file: &'static str,
    /// Appended to the file, or `None` to remove it.
    line: Option<&'static str>,
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

#[rustfmt::skip]
const RBLDNSD: &[Zone] = &[
    Zone { what: "$DATASET in a plain dnset", file: "zones/bl", line: Some("$DATASET dnset bl\n"), args: HOST, code: 1, says: "invalid or unrecognized special entry" },
    Zone { what: "an address that is none", file: "zones/bl", line: Some(".bad.example :999.0.0.2:bad address\n"), args: HOST, code: 1, says: "invalid A RR" },
    Zone { what: "an address octet of 256", file: "zones/bl", line: Some(".bad.example :127.0.0.256\n"), args: HOST, code: 1, says: "invalid A RR" },
    Zone { what: "a default that is no address", file: "zones/wl", line: Some(":127.0.0.x:bad default\n"), args: HOST, code: 1, says: "invalid A RR" },
    Zone { what: "a TTL that is no number", file: "zones/bl", line: Some("$TTL abc\n"), args: HOST, code: 1, says: "invalid or unrecognized special entry" },
    Zone { what: "an NS entry without servers", file: "zones/wl", line: Some("$NS x\n"), args: HOST, code: 1, says: "invalid or unrecognized special entry" },
    Zone { what: "the black list removed", file: "zones/bl", line: None, args: HOST, code: 3, says: "unable to open file" },
];

#[rustfmt::skip]
const BIND: &[Zone] = &[
    Zone { what: "an IPv4 address of 300", file: "zones/example.com.zone", line: Some("bad IN A 192.0.2.300\n"), args: &["check"], code: 1, says: "bad dotted quad" },
    Zone { what: "an IPv6 address that is none", file: "zones/example.com.zone", line: Some("bad IN AAAA 2001:db8::zz\n"), args: &["check"], code: 1, says: "bad IPv6 address" },
    Zone { what: "a CNAME with other data", file: "zones/example.com.zone", line: Some("ftp IN A 192.0.2.9\n"), args: &["check"], code: 1, says: "CNAME and other data" },
    Zone { what: "a record type that is none", file: "zones/example.com.zone", line: Some("odd IN BOGUS x\n"), args: &["check"], code: 1, says: "unknown RR type 'BOGUS'" },
    Zone { what: "a TTL that is no number", file: "zones/example.net.zone", line: Some("$TTL abc\nagain IN A 192.0.2.1\n"), args: &["check"], code: 1, says: "bad ttl" },
    Zone { what: "a zone file removed", file: "zones/example.net.zone", line: None, args: &["check"], code: 1, says: "file not found" },
];

fn run_zone_cases(cases: &[Zone], make: fn() -> Project) {
    let _docker = require_docker();
    let mut failures = Vec::new();
    for case in cases {
        let project = make();
        match case.line {
            Some(line) => {
                project.append(case.file, line);
            }
            None => std::fs::remove_file(project.file(case.file)).expect("remove"),
        }
        let outcome = project.devloop().args(case.args).run();
        if outcome.status.code() != Some(case.code) || !outcome.output().contains(case.says) {
            failures.push(format!(
                "{}: expected exit {} saying {:?}\n{outcome}",
                case.what, case.code, case.says
            ));
        }
        project.assert_no_container_left();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn zone_data_rbldnsd_rejects_fails_the_run_and_shows_the_complaint() {
    run_zone_cases(RBLDNSD, Project::rbldnsd);
}

#[test]
fn zone_data_named_rejects_fails_the_check_and_names_the_fault() {
    run_zone_cases(BIND, Project::bind);
}
