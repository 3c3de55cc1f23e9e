//! Unit tests of loading and validating `devloop.toml`: positions, messages, suggestions.

use std::time::Duration;

use super::values::{MAX_DURATION, parse_duration};
use super::*;

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("devloop.toml"), text.to_owned())
}

fn error_at(text: &str) -> (usize, usize, String, Option<String>) {
    match parse_str(text) {
        Err(ConfigError::Invalid(e)) => (e.line, e.column, e.message, e.help),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

const RBL: &str = r#"
[service]
image = "devloop-example/rbldnsd:latest"
ports = ["5301/udp"]
ready = { dns = "5301/udp", name = "ready.bl.rbl", timeout = "5s" }

[task."test:host"]
description = "Check a host"
args = [{ name = "host", prompt = "Host name to test", kind = "host" }]
steps = [
  { name = "black list", dns = "{host}.senderhost.bl.rbl", type = "A", expect = ["127.0.0.2"] },
  { name = "white list", dns = "{host}.senderhost.wl.rbl", type = "A", expect = "nxdomain" },
]
"#;

#[test]
fn parses_a_service_and_a_task() {
    let config = parse_str(RBL).expect("valid");
    let service = config.service.expect("service");
    assert_eq!(service.mount, "/service");
    assert_eq!(service.mount_mode, MountMode::Ro);
    assert_eq!(service.pull, PullPolicy::Missing);
    assert_eq!(
        service.ports,
        vec![ContainerPort {
            port: 5301,
            udp: true
        }]
    );
    let ready = service.ready.expect("ready");
    assert_eq!(ready.get_ref().timeout(), Duration::from_secs(5));
    let task = &config.tasks["test:host"];
    assert_eq!(task.args[0].kind, ArgKind::Host);
    assert_eq!(task.steps.len(), 2);
}

#[test]
fn unknown_key_gives_position_and_suggestion() {
    let (line, column, message, help) = error_at("[service]\nimgae = \"x\"\n");
    assert_eq!((line, column), (2, 1));
    assert_eq!(message, "unknown key `imgae`");
    assert_eq!(help.as_deref(), Some("did you mean `image`?"));
}

#[test]
fn bad_port_points_at_the_value() {
    let (line, column, message, _) = error_at("[service]\nimage = \"x\"\nports = [\"53/sctp\"]\n");
    assert_eq!((line, column), (3, 9));
    assert!(message.contains("unknown protocol `sctp`"), "{message}");
}

#[test]
fn bad_record_type_lists_the_valid_ones() {
    let text = RBL.replace("type = \"A\"", "type = \"AA\"");
    let (line, _, message, _) = error_at(&text);
    assert_eq!(line, 11);
    assert!(message.contains("AA"), "{message}");
}

#[test]
fn syntax_error_has_line_and_column() {
    let (line, column, _, _) = error_at("[service]\nimage = \"x\nports = 1\n");
    assert_eq!(line, 2);
    assert!(column >= 9, "column {column}");
}

#[test]
fn step_with_two_kinds_is_rejected() {
    let text = RBL.replace(
        "{ name = \"black list\",",
        "{ name = \"black list\", exec = [\"true\"],",
    );
    let (line, column, message, _) = error_at(&text);
    assert_eq!((line, column), (11, 3));
    assert!(message.contains("found dns and exec"), "{message}");
}

#[test]
fn unknown_placeholder_is_rejected_with_suggestion() {
    let text = RBL.replace("{host}.senderhost.bl.rbl", "{hots}.senderhost.bl.rbl");
    let (_, _, message, help) = error_at(&text);
    assert_eq!(
        message,
        "`{hots}` names no argument of task `test:host` (its arguments: `host`)"
    );
    assert_eq!(help.as_deref(), Some("did you mean `host`?"));
}

#[test]
fn sh_steps_may_not_paste_arguments() {
    let text = RBL.replace("steps = [", "steps = [\n  { sh = \"echo {host}\" },");
    let (_, _, message, help) = error_at(&text);
    assert!(message.contains("shell text"), "{message}");
    assert!(help.unwrap_or_default().contains("$host"));
}

#[test]
fn shell_scripts_in_argument_vectors_may_not_paste_arguments() {
    for step in [
        "{ run = [\"sh\", \"-c\", \"echo {host}\"] }",
        "{ exec = [\"/bin/bash\", \"-ec\", \"dig {host}\"] }",
    ] {
        let text = RBL.replace("steps = [", &format!("steps = [\n  {step},"));
        let (_, _, message, help) = error_at(&text);
        assert!(message.contains("shell text"), "{message}");
        assert!(help.unwrap_or_default().contains("$host"));
    }
    let fine = RBL.replace("steps = [", "steps = [\n  { run = [\"dig\", \"{host}\"] },");
    assert!(parse_str(&fine).is_ok());
}

#[test]
fn shell_braces_are_not_placeholders() {
    assert_eq!(placeholders("echo ${host} {{literal}} {x}"), vec!["x"]);
    assert!(placeholders("awk '{print $1}'").is_empty());
}

#[test]
fn unknown_dependency_suggests_a_task() {
    let text = format!("{RBL}\n[task.test]\ndeps = [\"test:hots\"]\n");
    let (line, _, message, help) = error_at(&text);
    assert_eq!(line, 16);
    assert!(
        message.contains("`test:hots`, which is not defined"),
        "{message}"
    );
    assert_eq!(help.as_deref(), Some("did you mean `test:host`?"));
}

#[test]
fn bad_duration_is_explained() {
    let text = RBL.replace("timeout = \"5s\"", "timeout = \"5 parsecs\"");
    let (line, _, message, _) = error_at(&text);
    assert_eq!(line, 5);
    assert!(message.contains("duration"), "{message}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert!(parse_duration("soon").is_err());
}

#[test]
fn durations_longer_than_a_day_are_refused_not_overflowed() {
    assert_eq!(parse_duration("86400s"), Ok(MAX_DURATION));
    assert_eq!(parse_duration("1440m"), Ok(MAX_DURATION));
    for long in [
        "86400.001s",
        "1441m",
        "10000000000000000000s",
        "99999999999999999999999s",
        "99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999ms",
    ] {
        let message = parse_duration(long).expect_err(long);
        assert!(
            message.contains("the longest duration accepted is 86400s"),
            "{message}"
        );
    }
    // In the file, the error is the value's, at its line and column.
    let text = RBL.replace("timeout = \"5s\"", "timeout = \"99999999999999999999999s\"");
    let (line, column, message, _) = error_at(&text);
    assert_eq!((line, column), (5, 62));
    assert!(message.contains("too long"), "{message}");
}

#[test]
fn line_columns_count_characters() {
    assert_eq!(line_column("ab\ncä d", 6), (2, 3));
    assert_eq!(line_column("x", 0), (1, 1));
}

/// Line and column where `needle` first starts in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in the text"));
    line_column(text, offset)
}

/// Asserts that `text` is refused at the start of `needle`, with a message holding
/// `fragment`; returns the message and help.
fn refused_at(text: &str, needle: &str, fragment: &str) -> (String, Option<String>) {
    let (line, column, message, help) = error_at(text);
    assert!(
        message.contains(fragment),
        "{message:?} should contain {fragment:?}"
    );
    assert_eq!((line, column), position_of(text, needle), "{message}");
    (message, help)
}

#[test]
fn a_check_that_refers_to_itself_is_refused_at_load() {
    let text = "[check.loop]\ncheck = \"loop\"\n\n[task.t]\nsteps = [{ check = \"loop\" }]\n";
    refused_at(text, "\"loop\"\n", "check `loop` refers to itself");
}

#[test]
fn a_circle_of_checks_is_named() {
    let text = "[check.ping]\ncheck = \"pong\"\n\n[check.pong]\ncheck = \"ping\"\n";
    refused_at(
        text,
        "\"ping\"\n",
        "checks refer to each other in a circle: ping -> pong -> ping",
    );
}

#[test]
fn a_circle_of_tasks_is_refused_at_load() {
    let text = "[task.a]\ndeps = [\"b\"]\n[task.b]\ndeps = [\"c\"]\n[task.c]\ndeps = [\"a\"]\n";
    refused_at(
        text,
        "\"a\"]",
        "tasks depend on each other in a circle: a -> b -> c -> a",
    );
    let text = "[task.me]\ndeps = [\"me\"]\n";
    refused_at(text, "\"me\"]", "task `me` depends on itself");
    // Diamonds are no circles.
    let fine = "[task.a]\ndeps = [\"b\", \"c\"]\n[task.b]\ndeps = [\"c\"]\n[task.c]\n";
    assert!(parse_str(fine).is_ok());
}

#[test]
fn a_probe_of_an_unpublished_port_names_both() {
    let text = RBL.replace(
        "ready = { dns = \"5301/udp\"",
        "ready = { dns = \"5302/udp\"",
    );
    let (message, help) = refused_at(&text, "\"5302/udp\"", "probes 5302/udp");
    assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
    assert!(help.unwrap_or_default().contains("add \"5302/udp\""));
    let text = RBL.replace(
        "ready = { dns = \"5301/udp\", name = \"ready.bl.rbl\",",
        "ready = { tcp = \"5301/tcp\",",
    );
    refused_at(
        &text,
        "\"5301/tcp\"",
        "probes 5301/tcp, which the service does not publish",
    );
}

#[test]
fn a_step_port_the_service_does_not_publish_is_refused() {
    let text = RBL.replace(
        "type = \"A\", expect = [\"127.0.0.2\"] }",
        "type = \"A\", port = \"5301/tcp\", expect = [\"127.0.0.2\"] }",
    );
    let (message, _) = refused_at(&text, "\"5301/tcp\"", "asks 5301/tcp");
    assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
    // In a named check too.
    let text = format!("{RBL}\n[check.tcp]\ndns = \"x.bl.rbl\"\nport = \"53\"\n");
    refused_at(&text, "\"53\"\n", "asks 53/tcp");
}

#[test]
fn a_protocol_the_service_does_not_publish_is_refused() {
    let text = RBL.replace(
        "type = \"A\", expect = [\"127.0.0.2\"] }",
        "type = \"A\", tcp = true, expect = [\"127.0.0.2\"] }",
    );
    refused_at(
        &text,
        "true, expect",
        "`tcp = true` asks over TCP, and the service does not publish 5301/tcp",
    );
    let text = RBL.replace("ports = [\"5301/udp\"]", "ports = []").replace(
        "ready = { dns = \"5301/udp\", name = \"ready.bl.rbl\", timeout = \"5s\" }",
        "ready = { log = \"up\" }",
    );
    refused_at(
        &text,
        "{ name = \"black list\"",
        "needs a port to ask, and the service publishes none",
    );
}

#[test]
fn a_port_variable_of_an_unpublished_port_is_refused() {
    let text = RBL.replace(
        "steps = [",
        "steps = [\n  { sh = \"dig -p $DEVLOOP_PORT_5301_TCP @127.0.0.1 x\" },",
    );
    let (message, _) = refused_at(&text, "\"dig -p", "`DEVLOOP_PORT_5301_TCP` names 5301/tcp");
    assert!(message.contains("ports = [\"5301/udp\"]"), "{message}");
    let text = RBL.replace(
        "steps = [",
        "steps = [\n  { run = [\"dig\", \"-p\", \"${DEVLOOP_PORT_5301_SCTP}\"] },",
    );
    refused_at(&text, "\"${DEVLOOP", "is no port variable");
    let text = RBL.replace(
        "steps = [",
        "steps = [\n  { sh = \"dig\", env = { P = \"$DEVLOOP_PORT_9_UDP\" } },",
    );
    refused_at(&text, "\"$DEVLOOP_PORT_9_UDP\"", "names 9/udp");
    let fine = RBL.replace(
        "steps = [",
        "steps = [\n  { sh = \"dig -p \\\"$DEVLOOP_PORT_5301_UDP\\\" @127.0.0.1 x\" },",
    );
    assert!(parse_str(&fine).is_ok());
}

#[test]
fn a_check_placeholder_the_task_does_not_bind_names_the_task_and_its_arguments() {
    let text = format!(
        "{RBL}\n[check.listed]\ndns = \"{{host}}.senderhost.bl.rbl\"\n\n[task.fixed]\nsteps = [{{ check = \"listed\" }}]\n"
    );
    let (message, help) = refused_at(
        &text,
        "\"listed\" }]",
        "check `listed` uses `{host}`, which names no argument of task `fixed` (it takes none)",
    );
    assert!(!message.contains("metacharacter"), "{message}");
    assert!(
        help.unwrap_or_default()
            .contains("args = [{ name = \"host\" }]")
    );
    // Through a chain of checks, the arguments are listed.
    let text = format!(
        "{RBL}\n[check.outer]\ncheck = \"inner\"\n[check.inner]\ndns = \"{{zone}}.bl.rbl\"\n\n[task.two]\nargs = [{{ name = \"a\" }}, {{ name = \"b\" }}]\nsteps = [{{ check = \"outer\" }}]\n"
    );
    refused_at(
        &text,
        "\"outer\" }]",
        "check `outer` -> `inner` uses `{zone}`, which names no argument of task `two` (its arguments: `a`, `b`)",
    );
    // `each` binds what the check uses.
    let fine = format!(
        "{RBL}\n[check.zone]\ndns = \"{{zone}}.bl.rbl\"\n\n[task.zones]\nsteps = [{{ check = \"zone\", each = {{ glob = \"src/*.rs\", as = \"zone\" }} }}]\n"
    );
    assert!(parse_str(&fine).is_ok(), "{:?}", parse_str(&fine).err());
}

#[test]
fn a_check_may_not_paste_the_task_arguments_into_shell_text() {
    let text = format!(
        "{RBL}\n[check.echo]\nsh = \"echo {{host}}\"\n\n[task.say]\nargs = [{{ name = \"host\" }}]\nsteps = [{{ check = \"echo\" }}]\n"
    );
    refused_at(
        &text,
        "\"echo\" }]",
        "check `echo` has `{host}` in a shell script",
    );
}

#[test]
fn value_errors_point_at_the_value() {
    let text = "[service]\nimage = \"x\"\nmount = \"relative/path\"\n";
    refused_at(text, "\"relative/path\"", "must be an absolute path");
    let text = RBL.replace("{ name = \"host\",", "{ name = \"Host\",");
    refused_at(&text, "\"Host\"", "`Host` is not an argument name");
    let text = RBL.replace(
        "steps = [",
        "steps = [\n  { name = \"c\", check = \"nope\" },",
    );
    refused_at(&text, "\"nope\"", "no check named `nope`");
    let text = RBL.replace("steps = [", "steps = [\n  { exec = [] },");
    refused_at(&text, "[] }", "`exec` is an empty command");
    let text = RBL.replace("{host}.senderhost.wl.rbl", "{hots}.senderhost.wl.rbl");
    refused_at(&text, "\"{hots}", "`{hots}` names no argument");
    let text = RBL.replace("ready = {", "reload = { signal = \"HUPP\" }\nready = {");
    refused_at(&text, "\"HUPP\"", "`HUPP` is not a signal");
    let text = RBL.replace(
        "{ name = \"host\", prompt = \"Host name to test\", kind = \"host\" }",
        "{ name = \"host\" }, { name = \"host\" }",
    );
    refused_at(&text, "\"host\" }]", "declares the argument `host` twice");
}

/// A project directory with a devloop.toml holding `text`; its root, canonical.
fn project(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    std::fs::write(root.join(FILE_NAME), text).expect("write");
    (dir, root)
}

fn load_error(path: &Path) -> (usize, usize, String) {
    match load(path) {
        Err(ConfigError::Invalid(e)) => (e.line, e.column, e.message),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

const CONSTRUCT: &str = "[construct]\nscope = \"zones.yaml\"\noutputs = [\n  { template = \"t.j2\", output = \"OUT\" },\n]\n";

#[test]
fn construct_outputs_must_stay_in_the_project() {
    for output in ["../../../x", "/tmp/x", "conf/../../x", ""] {
        let text = CONSTRUCT.replace("OUT", output);
        let (_dir, root) = project(&text);
        let (line, column, message) = load_error(&root.join(FILE_NAME));
        assert_eq!(
            (line, column),
            position_of(&text, &format!("\"{output}\" }}")),
            "{message}"
        );
        assert!(
            message.starts_with(&format!("`construct.outputs[0].output` = `{output}`")),
            "{message}"
        );
    }
}

#[test]
fn a_symlink_out_of_the_project_is_refused_for_outputs_templates_and_scope() {
    let outside = tempfile::tempdir().expect("tempdir");
    for (key, text) in [
        ("output", CONSTRUCT.replace("OUT", "conf/x")),
        (
            "template",
            CONSTRUCT.replace("OUT", "x").replace("t.j2", "conf/t.j2"),
        ),
        (
            "scope",
            CONSTRUCT
                .replace("OUT", "x")
                .replace("zones.yaml", "conf/zones.yaml"),
        ),
    ] {
        let (_dir, root) = project(&text);
        std::os::unix::fs::symlink(outside.path(), root.join("conf")).expect("symlink");
        let (_, _, message) = load_error(&root.join(FILE_NAME));
        assert!(
            message.contains(&format!(".{key}")) || message.contains(&format!("construct.{key}")),
            "{message}"
        );
        assert!(message.contains("through the symlink conf ->"), "{message}");
    }
    // A symlink that stays inside is fine.
    let (_dir, root) = project(&CONSTRUCT.replace("OUT", "link/x"));
    std::fs::create_dir(root.join("conf")).expect("mkdir");
    std::os::unix::fs::symlink("conf", root.join("link")).expect("symlink");
    assert!(load(&root.join(FILE_NAME)).is_ok());
}

#[test]
fn a_run_script_path_must_stay_in_the_project() {
    let text = RBL.replace("steps = [", "steps = [\n  { run = [\"../../bin/evil\"] },");
    refused_at(
        &text,
        "\"../../bin/evil\"",
        "the program `../../bin/evil` leads out of the project",
    );
    for fine in ["bin/check", "/usr/bin/dig", "dig", "./bin/check"] {
        let text = RBL.replace(
            "steps = [",
            &format!("steps = [\n  {{ run = [\"{fine}\"] }},"),
        );
        assert!(parse_str(&text).is_ok(), "{fine}");
    }
}

#[test]
fn bad_path_patterns_point_at_the_pattern() {
    let text = "[watch]\npaths = [\"zones\", \"../elsewhere\"]\n";
    refused_at(
        text,
        "\"../elsewhere\"",
        "`watch.paths[1]` = `../elsewhere` has a `..` component",
    );
    let text = "[hook]\npaths = [\"zones/{a\"]\n";
    refused_at(
        text,
        "\"zones/{a\"",
        "`hook.paths[0]` = `zones/{a` is not a pattern",
    );
    let text = RBL.replace(
        "steps = [",
        "steps = [\n  { run = [\"true\"], each = { glob = \"../*.zone\", as = \"zone\" } },",
    );
    refused_at(&text, "\"../*.zone\"", "`each.glob` = `../*.zone`");
}

#[test]
fn a_bad_output_mode_points_at_the_mode() {
    let text = "[construct]\nscope = \"s.yaml\"\noutputs = [{ template = \"t\", output = \"o\", mode = \"0999\" }]\n";
    refused_at(text, "\"0999\"", "`0999` is not a file mode");
}

#[test]
fn a_devloop_toml_that_is_no_file_says_what_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    type Make = dyn Fn(&Path);
    let cases: [(&str, &Make, &str); 4] = [
        (
            "dir",
            &|p| std::fs::create_dir(p).expect("mkdir"),
            "is a directory",
        ),
        (
            "fifo",
            &|p| {
                let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
                // SAFETY: mkfifo with a NUL-terminated path that outlives the call.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            },
            "is a FIFO",
        ),
        (
            "loop",
            &|p| std::os::unix::fs::symlink(FILE_NAME, p).expect("symlink"),
            "is a symlink loop",
        ),
        (
            "dangling",
            &|p| std::os::unix::fs::symlink("nowhere.toml", p).expect("symlink"),
            "is a symlink to nowhere.toml, which does not exist",
        ),
    ];
    for (name, make, expected) in cases {
        let project = root.join(name);
        let deep = project.join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        make(&project.join(FILE_NAME));
        // Found where it is (not walked past), and reported for what it is, at once.
        let found = find(&deep).expect("found");
        assert_eq!(found, project.join(FILE_NAME));
        let started = std::time::Instant::now();
        match load(&found) {
            Err(e @ ConfigError::NotAFile { .. }) => {
                assert!(e.to_string().contains(expected), "{name}: {e}");
            }
            other => panic!("{name}: expected NotAFile, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{name} blocked");
    }
}

#[test]
fn a_devloop_toml_that_is_not_utf8_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"[service]\nimage = \"\xff\"\n").expect("write");
    match load(&path) {
        Err(ConfigError::NotText { line, column, .. }) => assert_eq!((line, column), (2, 10)),
        other => panic!("expected NotText, got {other:?}"),
    }
}

#[test]
fn a_bare_file_name_has_the_current_directory_as_its_root() {
    // `devloop -f devloop.toml`: the root is mounted, so it must be a real directory.
    let config = parse_str("").expect("valid");
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(config.root, std::fs::canonicalize(cwd).expect("canonical"));
}

#[test]
fn finds_the_file_walking_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(FILE_NAME), "").expect("write");
    let deep = dir.path().join("a/b");
    std::fs::create_dir_all(&deep).expect("mkdir");
    assert_eq!(find(&deep).expect("found"), dir.path().join(FILE_NAME));
}
