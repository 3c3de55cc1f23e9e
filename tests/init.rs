//! `devloop init`: every template loads, the guess picks the right one for the examples,
//! and what it writes passes `devloop test` on the matching example with the real engine.

mod common;
mod gitrepo;

use common::{BIND_IMAGE, WorkTree};
use gitrepo::{GitRepo, RBLDNSD_IMAGE, repo_root, require_docker};

const TEMPLATES: [&str; 3] = ["rbldnsd", "bind", "generic"];

#[test]
fn init_lists_the_templates() {
    let repo = GitRepo::empty();
    let out = repo.devloop(&["init", "--list"]).success().stdout.clone();
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, TEMPLATES);
}

#[test]
fn every_template_is_written_as_shipped_and_loads() {
    for template in TEMPLATES {
        let repo = GitRepo::empty();
        repo.devloop(&["init", "--template", template])
            .success()
            .stdout_has(&format!("from the {template} template"));
        let shipped = std::fs::read_to_string(
            repo_root()
                .join("templates")
                .join(template)
                .join("devloop.toml"),
        )
        .expect("read the template");
        assert_eq!(repo.read("devloop.toml"), shipped, "{template}");
        repo.devloop(&["list"])
            .success()
            .stdout_has("devloop test ");
        repo.devloop(&["list", "--format", "json"]).success();
    }
}

#[test]
fn init_never_overwrites_without_force() {
    let repo = GitRepo::empty();
    repo.write("devloop.toml", "# mine\n");
    repo.devloop(&["init"])
        .code(2)
        .stderr_has("devloop.toml exists already; left as is")
        .stderr_has("--force");
    assert_eq!(repo.read("devloop.toml"), "# mine\n");
    repo.devloop(&["init", "--template", "nope"])
        .code(2)
        .stderr_has("rbldnsd");
    assert_eq!(repo.read("devloop.toml"), "# mine\n");
    repo.devloop(&["init", "--force", "--template", "generic"])
        .success();
    assert!(repo.read("devloop.toml").contains("[service]"));
}

#[test]
fn init_writes_where_it_is_told() {
    let repo = GitRepo::empty();
    std::fs::create_dir_all(repo.file("svc")).expect("mkdir");
    repo.devloop(&["-C", "svc", "init", "--template", "bind"])
        .success();
    assert!(repo.read("svc/devloop.toml").contains("named-checkzone"));
    repo.devloop(&["init", "-f", "other.toml", "--template", "rbldnsd"])
        .success();
    repo.devloop(&["-f", "other.toml", "list"])
        .success()
        .stdout_has("test:host HOST");
}

#[test]
fn init_guesses_generic_in_an_empty_directory() {
    let repo = GitRepo::empty();
    repo.devloop(&["init"])
        .success()
        .stdout_has("from the generic template");
}

/// Writes the template in a copy of the example that has no devloop.toml, checks that it
/// was the guessed one, names the project for the test, and runs `devloop test`.
fn init_then_test(example: &str, guessed_because: &str) {
    let repo = GitRepo::example_without_config(example);
    repo.devloop(&["init"])
        .success()
        .stdout_has(&format!("from the {example} template ({guessed_because}"));
    repo.devloop(&["list"]).success();
    let config = repo.read("devloop.toml");
    let line = config
        .lines()
        .find(|l| l.starts_with("# name = "))
        .expect("a commented project name");
    repo.replace("devloop.toml", line, &format!("name = \"{}\"", repo.name()));
    repo.devloop(&["test"])
        .success()
        .stdout_has("PASS test")
        .output_lacks("✗");
    repo.assert_no_container_left();

    // The hook runs the same task on what is staged.
    repo.git(&["add", "-A"]).success();
    repo.devloop(&["hook", "install"]).success();
    repo.commit("initial", &[])
        .success()
        .output_has("PASS test");
    repo.assert_no_container_left();
}

#[test]
fn init_guesses_rbldnsd_and_its_test_passes_on_the_example() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    init_then_test("rbldnsd", "the Dockerfile mentions rbldnsd");
}

#[test]
fn init_guesses_bind_and_its_test_passes_on_the_example() {
    // The template sets DEVLOOP_ISOLATE=1; the example's START method must honour it, so
    // that named sends nothing to the slave zones' (documentation) masters.
    let start = std::fs::read_to_string(repo_root().join("examples/bind/bin/start"))
        .expect("read examples/bind/bin/start");
    assert!(
        start.contains("DEVLOOP_ISOLATE"),
        "examples/bind/bin/start must honour DEVLOOP_ISOLATE"
    );
    let _docker = require_docker(&[BIND_IMAGE]);
    init_then_test("bind", "the Dockerfile mentions bind9 or named");
}

#[test]
fn init_speaks_json_lines_when_asked() {
    let repo = GitRepo::empty();
    let listed = repo.devloop(&["init", "--list", "--format", "json"]);
    let lines: Vec<serde_json::Value> = listed
        .success()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(lines.iter().all(|l| l["event"] == "template"), "{lines:?}");
    let names: Vec<&str> = lines.iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(names, TEMPLATES);

    let wrote = repo.devloop(&["init", "--template", "bind", "--format", "json"]);
    let line: serde_json::Value =
        serde_json::from_str(wrote.success().stdout.trim()).expect("one JSON line");
    assert_eq!(line["event"], "init");
    assert_eq!(line["template"], "bind");
    assert!(
        line["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/devloop.toml")),
        "{line}"
    );
    assert!(repo.read("devloop.toml").contains("named"));
}
