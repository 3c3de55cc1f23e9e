//! `devloop build` and `devloop inspect` against the real engine: a build of the rbldnsd
//! example stamps the OCI build labels (time, git revision with its dirty marker, source
//! without credentials, version, title, base), the build cause, the tag names and the
//! declared methods, and `inspect` shows them with the base image; an image built with
//! plain `docker build` and label-schema labels is understood too.

mod common;
mod engines;

use std::path::Path;
use std::process::{Command, Stdio};

use common::xml::read_report;
use common::{Project, WorkTree, require_docker};
use engines::{Engine, Image, unique};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The value of a build field of an inspected image.
fn field<'a>(image: &'a Value, name: &str) -> Option<&'a str> {
    image["build"]
        .as_array()?
        .iter()
        .find(|b| b["field"] == name)?["value"]
        .as_str()
}

#[test]
fn build_then_inspect_shows_the_labels() {
    let _docker = require_docker();
    let engine = Engine::first();
    let project = Project::rbldnsd();
    let repo = unique("devloop-test/build");
    let (main_tag, extra_tag) = (format!("{repo}:latest"), format!("{repo}:1.0"));
    // Removed at the end, whatever happens.
    let _built = Image {
        engine: engine.clone(),
        tags: vec![main_tag.clone(), extra_tag.clone()],
        id: String::new(),
    };
    project.replace_line(
        "devloop.toml",
        "image = ",
        &format!("image = \"{main_tag}\""),
    );
    // The example's [build] gives the base; add tags and methods to it.
    project.replace(
        "devloop.toml",
        "args = { BASE = \"devloop/debian:bookworm\" }\n",
        &format!(
            "args = {{ BASE = \"devloop/debian:bookworm\" }}\ntags = [\"{extra_tag}\"]\n\
             methods = {{ validate = \"/service/bin/validate\", monitor = \"/service/bin/monitor --once\" }}\n"
        ),
    );
    // Kept out of the image by .dockerignore.
    project.write(
        ".dockerignore",
        "# local notes and secrets\nnotes/\n*.secret\n",
    );
    project.write("notes/todo.txt", "not for the image\n");
    project.write("api.secret", "hunter2\n");
    let dir = project.path();
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "the service"]);
    git(dir, &["tag", "v1.0"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "https://deploy:s3cret@git.example.invalid/ops/rbl.git",
        ],
    );
    let head = git(dir, &["rev-parse", "HEAD"]);
    // An edit that is not committed: the build is of a dirty tree.
    project.append(
        "zones/bl",
        ".uncommitted.example :127.0.0.2:Not committed yet\n",
    );

    let outcome = project.devloop().arg("build").env("CI", "true").run();
    outcome
        .success()
        .stderr_has("Step 1/")
        .stdout_has(&format!("PASS built {main_tag}"))
        .stdout_has(&format!("tags    {main_tag}, {extra_tag}"))
        .output_lacks("s3cret");
    let revision = outcome.stdout_line("          org.opencontainers.image.revision ");
    assert!(revision.ends_with(&format!(" {head}-dirty")), "{revision}");
    let id = engine.image_id(&main_tag).expect("the image is built");
    assert_eq!(engine.image_id(&extra_tag).as_deref(), Some(id.as_str()));

    let inspected = project
        .devloop()
        .args(["inspect", &extra_tag, "--format", "json"])
        .run();
    inspected.success();
    let events = json_lines(&inspected.stdout);
    let image = &events[0];
    assert_eq!(image["event"], "image");
    assert_eq!(image["id"], id.as_str());
    let expected = [
        ("revision", format!("{head}-dirty")),
        (
            "source",
            "https://git.example.invalid/ops/rbl.git".to_owned(),
        ),
        ("version", "v1.0-dirty".to_owned()),
        ("title", project.name().to_owned()),
        ("base", "devloop/debian:bookworm".to_owned()),
        ("cause", "ci".to_owned()),
        ("ci", "true".to_owned()),
        ("tags", format!("{main_tag},{extra_tag}")),
        ("project", project.name().to_owned()),
    ];
    for (name, value) in &expected {
        assert_eq!(
            field(image, name),
            Some(value.as_str()),
            "{name}\n{inspected}"
        );
    }
    let created = field(image, "created").expect("created");
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {created}"
    );
    let methods: Vec<(&str, &str)> = image["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| Some((m["name"].as_str()?, m["command"].as_str()?)))
        .collect();
    assert!(
        methods.contains(&("VALIDATE", "/service/bin/validate")),
        "{methods:?}"
    );
    assert!(
        methods.contains(&("MONITOR", "/service/bin/monitor --once")),
        "{methods:?}"
    );
    // The ancestor: the base image, found and named.
    let base = &events[1];
    assert_eq!(base["depth"], 1);
    assert_eq!(base["reference"], "devloop/debian:bookworm");
    assert_eq!(
        base["id"].as_str(),
        engine.image_id("devloop/debian:bookworm").as_deref()
    );

    // .dockerignore was honoured; the rest of the work tree is in the image.
    let listing = engine.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "ls",
        &main_tag,
        "-a",
        "/service",
    ]);
    assert!(
        listing.contains("zones") && listing.contains("devloop.toml"),
        "{listing}"
    );
    assert!(
        !listing.contains("notes") && !listing.contains("api.secret"),
        "{listing}"
    );

    // The human view says the same, and where each value came from.
    project
        .devloop()
        .args(["inspect", &main_tag])
        .run()
        .success()
        .stdout_has(&format!("image {main_tag}"))
        .stdout_has("org.opencontainers.image.revision")
        .stdout_has("base image devloop/debian:bookworm")
        .stdout_has("MONITOR");
}

/// On a machine set up by scripts/images (offline: no registry), `devloop build` works in
/// each example as it stands: its [build] names the base image that script guarantees.
#[test]
fn devloop_build_works_offline_in_each_example_as_it_stands() {
    let _docker = require_docker();
    let engine = Engine::first();
    assert!(
        engine.image_id("devloop/debian:bookworm").is_some(),
        "the base image devloop/debian:bookworm is missing: run scripts/images"
    );
    for example in ["rbldnsd", "bind"] {
        let project = if example == "bind" {
            Project::bind()
        } else {
            Project::rbldnsd()
        };
        // A name of this test's own: the examples' images (devloop-example/*) stay as
        // they are.
        let tag = format!("{}:latest", unique(&format!("devloop-test/{example}")));
        let _built = Image {
            engine: engine.clone(),
            tags: vec![tag.clone()],
            id: String::new(),
        };
        project.replace_line("devloop.toml", "image = ", &format!("image = \"{tag}\""));
        let outcome = project.devloop().arg("build").run();
        outcome.success().stdout_has(&format!("PASS built {tag}"));
        let inspected = json_lines(
            &project
                .devloop()
                .args(["inspect", &tag, "--format", "json"])
                .run()
                .success()
                .stdout,
        );
        assert_eq!(
            field(&inspected[0], "base"),
            Some("devloop/debian:bookworm"),
            "{example}: {outcome}"
        );
    }
}

#[test]
fn inspect_understands_an_image_built_without_devloop() {
    let _docker = require_docker();
    let engine = Engine::first();
    let tag = format!("{}:legacy", unique("devloop-test/plain"));
    let _image = engine.build(
        &tag,
        "FROM devloop/debian:bookworm\n\
         LABEL org.label-schema.schema-version=\"1.0\" \\\n\
               org.label-schema.name=\"legacy-dns\" \\\n\
               org.label-schema.version=\"2.4.1\" \\\n\
               org.label-schema.vcs-ref=\"0badc0ffee\" \\\n\
               org.label-schema.vcs-url=\"https://git.example.invalid/ops/legacy-dns\" \\\n\
               org.label-schema.build-date=\"2019-05-04T03:02:01Z\"\n\
         ENV UPDATE_METHOD=/usr/local/bin/update \\\n\
             VALIDATE_METHOD=\"/usr/local/bin/check --quick\"\n",
    );
    let work = tempfile::tempdir().expect("tempdir");
    let outcome = common::Devloop::new(work.path())
        .args(["inspect", &tag])
        .run();
    outcome
        .success()
        .stdout_has(&format!("image {tag}"))
        .stdout_has("org.label-schema.vcs-ref")
        .stdout_has("0badc0ffee")
        .stdout_has("2.4.1")
        .stdout_has("https://git.example.invalid/ops/legacy-dns")
        .stdout_has("2019-05-04T03:02:01Z")
        .stdout_has("env UPDATE_METHOD")
        .stdout_has("/usr/local/bin/check --quick")
        .stdout_has("base image devloop/debian:bookworm  (found by: image history)");

    let events = json_lines(
        &common::Devloop::new(work.path())
            .args(["inspect", &tag, "--type", "image", "--format", "json"])
            .run()
            .success()
            .stdout,
    );
    let image = &events[0];
    assert_eq!(field(image, "title"), Some("legacy-dns"));
    assert_eq!(field(image, "revision"), Some("0badc0ffee"));
    assert_eq!(
        field(image, "source"),
        Some("https://git.example.invalid/ops/legacy-dns")
    );
    assert_eq!(field(image, "created"), Some("2019-05-04T03:02:01Z"));
    let methods: Vec<&str> = image["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(methods, ["UPDATE", "VALIDATE"]);
}

/// A copy of the example whose Dockerfile fails at its second step (exit 7), and the tag
/// the build would give the image (removed at the end of the test, should it exist).
fn broken_build() -> (Project, String, Image) {
    let project = Project::rbldnsd();
    let tag = format!("{}:broken", unique("devloop-test/build"));
    let cleanup = Image {
        engine: Engine::first(),
        tags: vec![tag.clone()],
        id: String::new(),
    };
    project.replace_line("devloop.toml", "image = ", &format!("image = \"{tag}\""));
    project.write(
        "Dockerfile",
        "FROM devloop/debian:bookworm\nRUN echo about to fail; exit 7\n",
    );
    (project, tag, cleanup)
}

#[test]
fn a_failed_build_exits_1_and_says_why() {
    let _docker = require_docker();
    let (project, tag, _cleanup) = broken_build();
    project
        .devloop()
        .arg("build")
        .run()
        .code(1)
        .stderr_has("about to fail")
        .stdout_has(&format!("FAIL build of {tag} failed"))
        .stdout_has("non-zero code: 7");
    assert_eq!(Engine::first().image_id(&tag), None);
}

#[test]
fn mistakes_are_reported_before_anything_is_built() {
    let project = Project::rbldnsd();
    project.replace_line("devloop.toml", "args = { BASE", "contxet = \"src\"");
    project
        .devloop()
        .arg("build")
        .run()
        .code(2)
        .stderr_has("unknown key `contxet`")
        .stderr_has("did you mean `context`");
    project.replace(
        "devloop.toml",
        "contxet = \"src\"",
        "dockerfile = \"Containerfile\"",
    );
    project
        .devloop()
        .arg("build")
        .run()
        .code(2)
        .stderr_has("no Dockerfile at")
        .stderr_has("Containerfile");
    project.replace("devloop.toml", "dockerfile = \"Containerfile\"", "");
    project
        .devloop()
        .args(["build", "--build-arg", "=x"])
        .run()
        .code(2)
        .stderr_has("--build-arg `=x` has no name");
}

#[test]
fn inspect_of_nothing_is_an_environment_error() {
    let _docker = require_docker();
    let work = tempfile::tempdir().expect("tempdir");
    common::Devloop::new(work.path())
        .args(["inspect", "devloop-test/no-such-image:never"])
        .run()
        .code(3)
        .stderr_has("no image or container of that name");
}

#[test]
fn a_failed_build_is_a_failed_case_of_the_junit_report() {
    let _docker = require_docker();
    let (project, tag, _cleanup) = broken_build();
    let outcome = project
        .devloop()
        .args(["build", "--junit", "build.xml"])
        .run();
    outcome.code(1);
    let report = read_report(&project.file("build.xml"), &outcome);
    let cases = report.all("testcase");
    assert_eq!(cases.len(), 1, "{report:?}");
    assert_eq!(cases[0].attribute("classname"), "build");
    assert_eq!(cases[0].attribute("name"), tag);
    let failure = cases[0]
        .all("failure")
        .pop()
        .unwrap_or_else(|| panic!("a failure\n{report:?}"));
    assert!(
        failure.attribute("message").contains("non-zero code: 7"),
        "{report:?}"
    );
}
