//! The command line as an operator meets it: listing tasks, prompts, mistakes in
//! `devloop.toml` and on the command line, hostile arguments, an engine that is not there.
//! None of these may start a container; the tests look.

mod common;

use std::time::Duration;

use common::{LISTED, Project, require_docker};

#[test]
fn list_shows_each_task_with_its_arguments() {
    let project = Project::rbldnsd();
    let outcome = project.devloop().arg("list").run();
    outcome.success();
    let host = outcome.stdout_line("devloop test:host HOST ");
    assert!(host.contains("# Check that HOST is blacklisted"), "{outcome}");
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
    assert!(project.containers().is_empty());
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
    assert!(project.containers().is_empty());
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
    assert!(project.containers().is_empty());
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
    assert!(project.containers().is_empty());
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
fn a_host_argument_with_shell_metacharacters_is_refused() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let marker = std::env::temp_dir().join(format!("pwned-{}", project.name()));
    let hostile = format!("$(touch {})", marker.display());
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
    assert!(project.containers().is_empty(), "a container was created");
}

#[test]
fn a_text_argument_reaches_an_sh_step_as_data_not_code() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    project.append(
        "devloop.toml",
        r#"
[task.echo]
description = "Print the argument"
args = [{ name = "host", kind = "text" }]
steps = [{ name = "echo", sh = "printf 'got:%s\n' \"$host\"" }]
"#,
    );
    let marker = std::env::temp_dir().join(format!("pwned2-{}", project.name()));
    let hostile = format!("$(touch {})", marker.display());
    project
        .devloop()
        .args(["-v", "echo", &hostile])
        .run()
        .success()
        .passed("echo")
        .stdout_has(&format!("got:{hostile}"));
    assert!(!marker.exists(), "the argument was executed");
    assert!(project.containers().is_empty(), "a container was created");
}
