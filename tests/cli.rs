//! The command line as an operator meets it: listing tasks, prompts, mistakes in
//! `devloop.toml` and on the command line, hostile arguments, an engine that is not there.
//! A mistake is caught before any container is created; the tests ask the engine's event
//! log to make sure.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use common::{LISTED, Project, WorkTree, require_docker};

#[test]
fn list_shows_each_task_with_its_arguments() {
    let project = Project::rbldnsd();
    let outcome = project.devloop().arg("list").run();
    outcome.success();
    let host = outcome.stdout_line("devloop test:host HOST ");
    assert!(
        host.contains("# Check that HOST is blacklisted"),
        "{outcome}"
    );
    outcome.stdout_line("devloop test ");
}

#[test]
fn a_missing_argument_is_asked_for_on_a_terminal() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let outcome = project
        .devloop()
        .arg("test:host")
        .run_on_terminal(&format!("{LISTED}\n"));
    outcome
        .success()
        .stdout_has("Host name to test:")
        .stdout_has("PASS test:host");
    project.assert_no_container_left();
}

#[test]
fn a_missing_argument_without_a_terminal_is_a_usage_error() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .arg("test:host")
        .stdin(&format!("{LISTED}\n"))
        .run()
        .code(2)
        .stderr_has("needs the argument `host`")
        .output_lacks("Host name to test:");
    project.assert_no_container_created();
}

#[test]
fn an_unknown_key_in_devloop_toml_is_pointed_at_with_a_suggestion() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.replace_line(
        "devloop.toml",
        "image = ",
        "imgae = \"devloop-example/rbldnsd:latest\"",
    );
    let line = project.line_of("devloop.toml", "imgae = ");
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .code(2)
        .stderr_has(&format!("devloop.toml:{line}:1: unknown key `imgae`"))
        .stderr_has("did you mean `image`");
    project.assert_no_container_created();
}

#[test]
fn a_toml_syntax_error_is_pointed_at() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    // A bare word where a string belongs: the error is at the word, column 9.
    project.replace_line("devloop.toml", "pull ", "pull  = missing");
    let line = project.line_of("devloop.toml", "pull ");
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .code(2)
        .stderr_has(&format!("devloop.toml:{line}:9:"));
    project.assert_no_container_created();
}

#[test]
fn an_unterminated_string_is_pointed_at_where_the_line_ends() {
    let project = Project::rbldnsd();
    project.replace_line("devloop.toml", "pull ", "pull  = \"missing");
    let line = project.line_of("devloop.toml", "pull ");
    project
        .devloop()
        .arg("list")
        .run()
        .code(2)
        .stderr_has(&format!("devloop.toml:{line}:17:"));
}

#[test]
fn a_bad_value_is_pointed_at_its_own_line_and_column() {
    let project = Project::rbldnsd();
    project.replace_line("devloop.toml", "mount ", "mount = \"relative/path\"");
    let line = project.line_of("devloop.toml", "mount ");
    project
        .devloop()
        .arg("list")
        .run()
        .code(2)
        .stderr_has(&format!(
            "devloop.toml:{line}:9: `service.mount` must be an absolute path"
        ));
    // A readiness probe of a port the service does not publish: refused at once, naming
    // both, instead of waiting out the probe's timeout.
    project.replace_line("devloop.toml", "mount ", "mount = \"/service\"");
    project.replace_line(
        "devloop.toml",
        "ready ",
        "ready = { dns = \"5302/udp\", name = \"test.senderhost.bl.rbl\", timeout = \"10s\" }",
    );
    let line = project.line_of("devloop.toml", "ready ");
    project
        .devloop()
        .args(["test:host", LISTED])
        .run()
        .code(2)
        .within(Duration::from_secs(5))
        .stderr_has(&format!("devloop.toml:{line}:17: `ready` probes 5302/udp"))
        .stderr_has("ports = [\"5301/udp\"]");
}

#[test]
fn a_devloop_toml_that_is_no_file_is_named_for_what_it_is() {
    let project = Project::rbldnsd();
    std::fs::remove_file(project.file("devloop.toml")).expect("remove");
    std::fs::create_dir(project.file("devloop.toml")).expect("mkdir");
    std::fs::create_dir(project.file("below")).expect("mkdir");
    common::Devloop::new(&project.file("below"))
        .arg("list")
        .run()
        .code(2)
        .stderr_has("devloop.toml is a directory; devloop.toml must be a regular file")
        .output_lacks("no devloop.toml in");
    project
        .devloop()
        .args(["--file", "."])
        .arg("list")
        .run()
        .code(2)
        .stderr_has("is a directory");
}

#[test]
fn a_bare_file_name_is_found_in_the_current_directory() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .args(["-f", "devloop.toml", "test:host", LISTED])
        .run()
        .success();
    project.assert_no_container_left();
}

#[test]
fn an_unknown_task_gets_a_did_you_mean() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project
        .devloop()
        .args(["tset:host", LISTED])
        .run()
        .code(2)
        .stderr_has("tset:host")
        .stderr_has("did you mean `test:host`");
    project.assert_no_container_created();
}

#[test]
fn an_unreachable_engine_is_an_environment_error_naming_what_was_tried() {
    let project = Project::rbldnsd();
    project
        .devloop()
        .env("DOCKER_HOST", "unix:///nonexistent")
        .args(["test:host", LISTED])
        .run()
        .code(3)
        .within(Duration::from_secs(5))
        .stderr_has("unix:///nonexistent");
}

#[test]
fn an_engine_that_never_answers_is_given_up_on_within_seconds() {
    let project = Project::rbldnsd();
    // Accepts connections on 127.0.0.1 and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = silent.local_addr().expect("address");
    let host = format!("tcp://{address}");
    project
        .devloop()
        .env("DOCKER_HOST", &host)
        .args(["test:host", LISTED])
        .run()
        .code(3)
        .within(Duration::from_secs(8))
        .stderr_has(&host);
}

#[test]
fn a_host_argument_with_shell_metacharacters_is_refused() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let (_markers, marker, hostile) = hostile_argument("pwned");
    for argument in [hostile.as_str(), "a;b", "`id`"] {
        let outcome = project.devloop().args(["test:host", argument]).run();
        outcome.code(2).stderr_has(&format!("{argument:?}"));
        assert!(
            outcome.stderr.contains("`host`") || outcome.stderr.contains("host \""),
            "the error should name the argument `host`\n{outcome}"
        );
    }
    // By name too.
    project
        .devloop()
        .args(["test:host", &format!("host={hostile}")])
        .run()
        .code(2)
        .stderr_has(&format!("{hostile:?}"));
    assert!(!marker.exists(), "the argument was executed");
    project.assert_no_container_created();
}

#[test]
fn a_text_argument_reaches_an_sh_step_as_data_not_code() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    add_echo_task(
        &project,
        "Print the argument",
        r#"{ name = "host", kind = "text" }"#,
        r#"{ name = "echo", sh = "printf 'got:%s\n' \"$host\"" }"#,
    );
    let (_markers, marker, hostile) = hostile_argument("pwned2");
    project
        .devloop()
        .args(["-v", "echo", &hostile])
        .run()
        .success()
        .passed("echo")
        .stdout_has(&format!("got:{hostile}"));
    assert!(!marker.exists(), "the argument was executed");
    project.assert_no_container_created();
}

#[test]
fn a_text_argument_is_never_pasted_into_the_shell_script_of_a_run_step() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    add_echo_task(
        &project,
        "Print the argument through a shell on the host",
        r#"{ name = "word" }"#,
        r#"{ name = "echo", run = ["sh", "-c", "echo got:{word}"] }"#,
    );
    let (_markers, marker, hostile) = hostile_argument("pwned3");
    let outcome = project.devloop().args(["-v", "echo", &hostile]).run();
    assert!(
        !marker.exists(),
        "the argument was run as shell code on the host\n{outcome}"
    );
    // Refusing the step (2) is right; so is quoting the value (the literal text printed).
    if outcome.status.code() != Some(2) {
        outcome.success().stdout_has(&format!("got:{hostile}"));
    }
    project.assert_no_container_left();
}

#[test]
fn a_text_argument_is_never_pasted_into_the_shell_script_of_an_exec_step() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    add_echo_task(
        &project,
        "Print the argument through a shell in the container",
        r#"{ name = "word" }"#,
        r#"{ name = "echo", exec = ["sh", "-c", "echo got:{word}"] }"#,
    );
    // Run as code, this prints "got:injected"; as data, the text itself.
    let hostile = "$(echo in)jected";
    let outcome = project.devloop().args(["-v", "echo", hostile]).run();
    outcome.stdout_lacks("got:injected");
    if outcome.status.code() != Some(2) {
        outcome.success().stdout_has(&format!("got:{hostile}"));
    }
    project.assert_no_container_left();
}

/// A command line argument that, run as shell code, would create a file of that name in a
/// temporary directory (outside the work tree, and gone after the test even if the
/// argument ran): the directory's guard, the file, and the argument.
fn hostile_argument(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let markers = tempfile::tempdir().expect("tempdir");
    let marker = markers.path().join(name);
    let hostile = format!("$(touch {})", marker.display());
    (markers, marker, hostile)
}

/// Adds the task `echo` to devloop.toml, with one argument and one step (TOML inline
/// tables, without their brackets).
fn add_echo_task(project: &Project, description: &str, args: &str, step: &str) {
    project.append(
        "devloop.toml",
        &format!(
            "\n[task.echo]\ndescription = \"{description}\"\nargs = [{args}]\nsteps = [{step}]\n"
        ),
    );
}
