//! `--junit FILE`: a report that cannot be written where asked is refused before anything
//! starts (exit 2, naming the path); one that cannot be written at the end names the file.

mod common;

use common::{LISTED, Project, WorkTree, require_docker};

#[test]
fn a_junit_report_in_a_directory_that_does_not_exist_is_refused_before_anything_starts() {
    let _docker = require_docker();
    let project = Project::rbldnsd();
    let missing = project.path().join("no-such-dir").join("out.xml");
    let outcome = project
        .devloop()
        .arg("--junit")
        .arg(missing.to_string_lossy())
        .args(["test:host", LISTED])
        .run();
    outcome
        .code(2)
        .stderr_has(&format!(
            "cannot write the JUnit report to {}: the directory {} does not exist",
            missing.display(),
            project.path().join("no-such-dir").display()
        ))
        .stdout_lacks("test:host");
    project.assert_no_container_created();
}

#[test]
fn a_junit_report_path_given_after_the_task_is_checked_too() {
    let project = Project::rbldnsd();
    project.write("reports/.keep", "");
    project
        .devloop()
        .args(["test:host", LISTED, "--junit", "reports"])
        .run()
        .code(2)
        .stderr_has("cannot write the JUnit report to reports: it is a directory");
}

#[test]
fn a_junit_report_that_cannot_be_written_at_the_end_names_the_file() {
    let project = Project::rbldnsd();
    project.write("reports/.keep", "");
    project.append(
        "devloop.toml",
        "\n[task.vanish]\nsteps = [{ name = \"remove the report's directory\", sh = \"rm -r reports\" }]\n",
    );
    project
        .devloop()
        .args(["--junit", "reports/out.xml", "vanish"])
        .run()
        .code(3)
        .stderr_has("the JUnit report reports/out.xml: ")
        .passed("remove the report's directory");
}
