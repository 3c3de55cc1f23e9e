//! The pre-commit hook and `--staged`, on real git repositories with the real engine:
//! the commit is decided by what is staged, never by the work tree, and the work tree,
//! the index and the stash are exactly as they were afterwards.

mod common;
mod gitrepo;

use common::WorkTree;
use gitrepo::{GitRepo, RBLDNSD_IMAGE, repo_root, require_docker};

/// The line of the example's black list that lists sh8.mailingliststart.com.
const LISTING: &str = ".mailingliststart.com :127.0.0.2:Excessive spam from this host\n";
/// The check of the example's `test` task that needs that line.
const FAILING_CHECK: &str = "✗ sh8.mailingliststart.com is blacklisted";

/// The example's black list without the line that lists sh8.mailingliststart.com.
fn unlisted(repo: &GitRepo) -> String {
    let good = repo.read("zones/bl");
    assert!(
        good.contains(LISTING),
        "the example lists mailingliststart.com"
    );
    good.replace(LISTING, "")
}

/// The example's black list with one more (valid) entry.
fn one_more_entry(repo: &GitRepo) -> String {
    let mut good = repo.read("zones/bl");
    good.push_str(".newly-seen-spammer.example :127.0.0.2:Spam trap hits\n");
    good
}

#[test]
fn staged_good_and_unstaged_bad_commits() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    repo.devloop(&["hook", "install"])
        .success()
        .stdout_has("installed");
    let good = one_more_entry(&repo);
    repo.stage("zones/bl", &good);
    // The work tree goes bad after staging: that edit is not part of the commit.
    let bad = good.replace(LISTING, "");
    repo.write("zones/bl", &bad);
    let before = repo.snapshot();

    repo.commit("a new spammer", &[])
        .success()
        .output_has("PASS test")
        .output_lacks("✗");

    assert_eq!(repo.git_out(&["show", "HEAD:zones/bl"]), good);
    assert_eq!(
        repo.read("zones/bl"),
        bad,
        "the unstaged edit is still there"
    );
    let after = repo.snapshot();
    assert_eq!(after.files, before.files, "the work tree is untouched");
    assert_eq!(after.unstaged_diff, before.unstaged_diff);
    assert_eq!(after.stash, "", "nothing was stashed");
    repo.assert_no_container_left();
}

#[test]
fn staged_bad_and_unstaged_good_is_refused_and_nothing_changes() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    repo.devloop(&["hook", "install"]).success();
    let good = repo.read("zones/bl");
    repo.stage("zones/bl", &unlisted(&repo));
    // The work tree is fixed, but the fix is not staged: the commit must still fail.
    repo.write("zones/bl", &good);
    repo.write("notes.txt", "untracked, and not committed\n");
    let head = repo.head();
    let before = repo.snapshot();

    repo.commit("drop a listing", &[])
        .failure()
        .output_has(FAILING_CHECK)
        .output_has("FAIL test");

    assert_eq!(repo.head(), head, "nothing was committed");
    assert_eq!(
        repo.snapshot(),
        before,
        "tree, index and stash are as they were"
    );
    repo.assert_no_container_left();
}

#[test]
fn a_staged_run_reads_nothing_unstaged_and_writes_nothing() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    repo.stage("zones/bl", &one_more_entry(&repo));
    // Unstaged and untracked trouble everywhere: a broken devloop.toml, a zone without
    // the listing, a stray file in zones/.
    repo.write("devloop.toml", "this is [not toml\n");
    repo.write("zones/bl", &unlisted(&repo));
    repo.write("zones/untracked", "garbage that rbldnsd would reject\n");
    let before = repo.snapshot();
    let index = repo.index_bytes();

    repo.devloop(&["test", "--staged"])
        .success()
        .stdout_has("PASS test");
    // Options before the task work the same; the same run from a subdirectory too.
    repo.devloop_in(
        &repo.file("zones"),
        &["--staged", "test:host", "sh8.mailingliststart.com"],
    )
    .success()
    .stdout_has("PASS test:host");

    assert_eq!(repo.snapshot(), before);
    assert_eq!(
        repo.index_bytes(),
        index,
        "the index file is byte-identical"
    );
    // Without --staged, the same checkout is what it is: broken.
    repo.devloop(&["test"]).code(2);
    repo.assert_no_container_left();
}

#[test]
fn a_staged_run_keeps_the_projects_container_labels() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    // No [project] name: the project is named after the repository's directory (which
    // the harness names like the project), not after the temporary copy of the index.
    let config = repo.read("devloop.toml");
    let name_line = format!("name = \"{}\"\n", repo.name());
    repo.stage("devloop.toml", &config.replace(&name_line, ""));
    assert_eq!(
        repo.path().file_name().and_then(|n| n.to_str()),
        Some(repo.name())
    );
    repo.devloop(&["test:host", "sh8.mailingliststart.com", "--staged"])
        .success();
    assert_eq!(
        repo.containers_created().len(),
        1,
        "the run's container is labelled devloop.project={}",
        repo.name()
    );
    repo.assert_no_container_left();
}

#[test]
fn commit_all_tests_what_it_would_commit() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    repo.devloop(&["hook", "install"]).success();
    // Nothing staged, a bad work tree: `git commit -a` would commit it, and the hook sees
    // the temporary index git made for that (GIT_INDEX_FILE).
    repo.write("zones/bl", &unlisted(&repo));
    let head = repo.head();
    repo.commit("everything", &["-a"])
        .failure()
        .output_has(FAILING_CHECK);
    assert_eq!(repo.head(), head);
    // `git commit PATH` likewise.
    repo.commit("that file", &["--", "zones/bl"])
        .failure()
        .output_has(FAILING_CHECK);
    assert_eq!(repo.head(), head);
    assert_eq!(
        repo.git_out(&["diff", "--cached"]),
        "",
        "the index was not changed"
    );
    repo.assert_no_container_left();
}

/// The example, committed with a `[hook]` that runs `test` on changes under `zones`.
fn watching_zones() -> GitRepo {
    let repo = GitRepo::example("rbldnsd");
    let mut config = repo.read("devloop.toml");
    config.push_str("\n[hook]\ntask = \"test\"\npaths = [\"zones\"]\n");
    repo.stage("devloop.toml", &config);
    repo.git(&["commit", "-q", "--no-verify", "-m", "watch zones"])
        .success();
    repo
}

#[test]
fn the_hook_skips_commits_that_touch_no_watched_path() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = watching_zones();
    repo.devloop(&["hook", "install"]).success();

    // A README (and an unstaged broken zone) does not start anything.
    repo.stage("README", "about this list\n");
    repo.write("zones/bl", &unlisted(&repo));
    let started = std::time::Instant::now();
    repo.commit("docs", &[])
        .success()
        .output_has("devloop: no staged change under zones, devloop.toml; skipping");
    let skipped_in = started.elapsed();
    assert!(
        repo.containers_created().is_empty(),
        "a skipped hook starts no container"
    );

    // A staged zone change runs the task, and fails on the staged content.
    repo.git(&["add", "zones/bl"]).success();
    repo.commit("zones", &[])
        .failure()
        .output_has(FAILING_CHECK);
    assert!(!repo.containers_created().is_empty());
    eprintln!("skipped commit took {skipped_in:?}");
    repo.assert_no_container_left();
}

#[test]
fn a_project_in_a_subdirectory_is_found_from_the_top() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    // Move the project one level down; the hook is installed from there.
    let project = repo.file("rbl");
    std::fs::create_dir_all(&project).expect("mkdir");
    repo.git(&["mv", "zones", "bin", "Dockerfile", "devloop.toml", "rbl/"])
        .success();
    let mut config = std::fs::read_to_string(project.join("devloop.toml")).expect("read");
    config.push_str("\n[hook]\npaths = [\"zones\"]\n");
    std::fs::write(project.join("devloop.toml"), config).expect("write");
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-q", "--no-verify", "-m", "move"])
        .success();
    repo.devloop_in(&project, &["hook", "install"]).success();
    let hook = std::fs::read_to_string(repo.file(".git/hooks/pre-commit")).expect("hook");
    assert!(hook.contains("'-C' 'rbl' hook run"), "{hook}");

    // A zones/ directory outside the project is not the project's.
    repo.stage("zones/bl", "not the project's\n");
    repo.commit("elsewhere", &[])
        .success()
        .output_has("devloop: no staged change under rbl/zones, rbl/devloop.toml; skipping");
    let bl = std::fs::read_to_string(project.join("zones/bl")).expect("read");
    repo.stage("rbl/zones/bl", &bl.replace(LISTING, ""));
    repo.commit("the project's", &[])
        .failure()
        .output_has(FAILING_CHECK);
    repo.assert_no_container_left();
}

#[test]
fn without_a_staged_devloop_toml_the_message_is_clear() {
    // No repository at all.
    let outside = GitRepo::empty();
    std::fs::remove_dir_all(outside.file(".git")).expect("rm .git");
    outside
        .devloop(&["test", "--staged"])
        .code(2)
        .stderr_has("is not in a git work tree");

    // A repository without devloop.toml.
    let repo = GitRepo::empty();
    repo.stage("README", "hello\n");
    repo.devloop(&["test", "--staged"])
        .code(2)
        .stderr_has("error: no devloop.toml in the index at or above")
        .stderr_has("devloop init");
    repo.devloop(&["hook", "run"])
        .code(2)
        .stderr_has("no devloop.toml in the index");
    repo.devloop(&["hook", "install"])
        .code(2)
        .stderr_has("no devloop.toml in")
        .stderr_has("devloop init");

    // One in the work tree that is not staged.
    repo.write("devloop.toml", "[task.test]\nsteps = [{ sh = \"true\" }]\n");
    repo.devloop(&["test", "--staged"])
        .code(2)
        .stderr_has("devloop.toml is not staged")
        .stderr_has("git add");

    // A staged one that is broken: the error names the file and says it is the staged one.
    repo.stage("devloop.toml", "[task.test]\nsteps = [{ sh = 1 }]\n");
    repo.write("devloop.toml", "[task.test]\nsteps = [{ sh = \"true\" }]\n");
    repo.devloop(&["hook", "run"])
        .code(2)
        .stderr_has("devloop.toml (staged):2:");

    // --staged means nothing to commands that are not task runs.
    repo.devloop(&["list", "--staged"])
        .code(2)
        .stderr_has("--staged applies to task runs");
}

#[test]
fn host_steps_run_in_the_staged_tree() {
    // No Docker needed: a task of host steps sees the staged files only.
    let repo = GitRepo::empty();
    repo.stage(
        "devloop.toml",
        "[task.test]\nsteps = [{ name = \"staged content\", sh = \"grep -qx staged data.txt && test ! -e untracked.txt\" }]\n",
    );
    repo.stage("data.txt", "staged\n");
    repo.write("data.txt", "unstaged\n");
    repo.write("untracked.txt", "x\n");
    repo.devloop(&["test", "--staged"]).success();
    repo.devloop(&["test"]).code(1);
    repo.devloop(&["hook", "run"]).success();
}

#[test]
fn install_honours_hooks_path_and_never_takes_a_foreign_hook() {
    let repo = GitRepo::empty();
    repo.stage("devloop.toml", "[task.test]\nsteps = [{ sh = \"true\" }]\n");
    repo.git(&["config", "core.hooksPath", ".githooks"])
        .success();
    let hook = repo.file(".githooks/pre-commit");

    repo.devloop(&["hook", "install"]).success();
    let ours = std::fs::read_to_string(&hook).expect("the hook is in core.hooksPath");
    assert!(ours.starts_with("#!/bin/sh\n"));
    assert!(ours.contains(&gitrepo::devloop_bin().display().to_string()));
    assert!(!repo.file(".git/hooks/pre-commit").exists());
    // Installing again updates our own hook.
    repo.devloop(&["hook", "install"]).success();

    // A hook devloop did not write is never replaced without --force, nor removed.
    let foreign = "#!/bin/sh\necho someone else's hook\n";
    std::fs::write(&hook, foreign).expect("write");
    repo.devloop(&["hook", "install"])
        .code(2)
        .stderr_has("was not written by devloop; left as is")
        .stderr_has("--force");
    assert_eq!(std::fs::read_to_string(&hook).expect("read"), foreign);
    repo.devloop(&["hook", "uninstall"])
        .code(2)
        .stderr_has("was not written by devloop; left as is");
    assert_eq!(std::fs::read_to_string(&hook).expect("read"), foreign);

    // --force keeps it aside; uninstall puts it back.
    repo.devloop(&["hook", "install", "--force"])
        .success()
        .stdout_has("pre-commit.before-devloop");
    assert!(
        std::fs::read_to_string(&hook)
            .expect("read")
            .contains("hook run")
    );
    repo.devloop(&["hook", "uninstall"])
        .success()
        .stdout_has("restored the previous hook");
    assert_eq!(std::fs::read_to_string(&hook).expect("read"), foreign);

    // Nothing installed: uninstall says so.
    std::fs::remove_file(&hook).expect("rm");
    repo.devloop(&["hook", "uninstall"])
        .code(2)
        .stderr_has("nothing to remove");
}

#[test]
fn install_refuses_a_hook_task_that_does_not_exist() {
    let repo = GitRepo::empty();
    repo.stage(
        "devloop.toml",
        "[task.check]\nsteps = [{ sh = \"true\" }]\n\n[hook]\ntask = \"chek\"\n",
    );
    repo.devloop(&["hook", "install"])
        .code(2)
        .stderr_has("chek")
        .stderr_has("did you mean `check`?");
    assert!(!repo.file(".git/hooks/pre-commit").exists());
}

/// The shipped `.pre-commit-hooks.yaml`, used as a `repo: local` hook by the real
/// pre-commit tool (installed by scripts/test; the test fails without it).
#[test]
fn the_pre_commit_framework_runs_the_shipped_hook() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    let manifest = std::fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml"))
        .expect("read .pre-commit-hooks.yaml");
    let hooks: String = manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("      {l}\n"))
        .collect();
    assert!(hooks.contains("- id: devloop"), "{hooks}");
    repo.stage(
        ".pre-commit-config.yaml",
        &format!("repos:\n  - repo: local\n    hooks:\n{hooks}"),
    );
    repo.git(&["commit", "-q", "--no-verify", "-m", "pre-commit"])
        .success();
    repo.program("pre-commit", &["--version"]).success();
    repo.program("pre-commit", &["install"]).success();

    // Staged bad, unstaged good: refused, the failing check shown, nothing changed.
    let good = repo.read("zones/bl");
    repo.stage("zones/bl", &unlisted(&repo));
    repo.write("zones/bl", &good);
    let head = repo.head();
    let before = repo.snapshot();
    repo.program("git", &["commit", "-m", "drop a listing"])
        .failure()
        .output_has("- hook id: devloop")
        .output_has(FAILING_CHECK);
    assert_eq!(repo.head(), head);
    assert_eq!(repo.snapshot(), before);

    // Staged good, unstaged bad: committed.
    repo.stage("zones/bl", &one_more_entry(&repo));
    repo.write("zones/bl", &unlisted(&repo));
    repo.program("git", &["commit", "-m", "a new spammer"])
        .success()
        .output_has("Passed");
    assert_ne!(repo.head(), head);
    assert_eq!(repo.git_out(&["stash", "list"]), "");
    repo.assert_no_container_left();
}

#[test]
fn the_staged_tree_is_removed_on_every_way_out() {
    let _docker = require_docker(&[RBLDNSD_IMAGE]);
    let repo = GitRepo::example("rbldnsd");
    let config = repo.read("devloop.toml");

    // SIGTERM while the service is starting: exit 143, no tree, no container.
    let ready = config
        .lines()
        .find(|l| l.starts_with("ready = "))
        .expect("a ready line");
    repo.stage(
        "devloop.toml",
        &config.replace(
            ready,
            "ready = { log = \"this never appears\", timeout = \"60s\" }",
        ),
    );
    let mut child = repo.spawn_devloop(&["test", "--staged"]);
    repo.wait_for_running_container(std::time::Duration::from_secs(30));
    // SAFETY: sends a signal to the child this test started.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = child.wait().expect("wait for devloop");
    assert_eq!(status.code(), Some(143));
    repo.assert_no_staged_tree_left();
    repo.assert_no_container_left();

    // An image that is not there (the environment failed): exit 3, no tree.
    let image = config
        .lines()
        .find(|l| l.starts_with("image = "))
        .expect("an image line");
    repo.stage(
        "devloop.toml",
        &config
            .replace(
                image,
                "image = \"devloop-example/not-built-here:latest\"\npull = \"never\"",
            )
            .replace("pull  = \"missing\"\n", ""),
    );
    repo.devloop(&["test", "--staged"]).code(3);

    // A plan error after the export (an unknown task): exit 2, no tree.
    repo.devloop(&["no-such-task", "--staged"]).code(2);
    repo.assert_no_container_left();
}

#[test]
fn in_json_lines_the_hook_says_what_it_did_and_why_it_skips() {
    let repo = watching_zones();
    let json = |outcome: &gitrepo::Outcome| -> Vec<serde_json::Value> {
        outcome
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    };

    let installed = repo.devloop(&["hook", "install", "--format", "json"]);
    let lines = json(installed.success());
    assert_eq!(lines.len(), 1, "{installed:?}");
    assert_eq!(lines[0]["event"], "hook");
    assert_eq!(lines[0]["action"], "install");
    assert_eq!(lines[0]["task"], "test");
    assert!(
        lines[0]["hook"]
            .as_str()
            .is_some_and(|h| h.ends_with("pre-commit")),
        "{lines:?}"
    );

    repo.stage("README", "about this list\n");
    let skipped = repo.devloop(&["hook", "run", "--format", "json"]);
    let lines = json(skipped.success());
    assert_eq!(
        lines,
        [serde_json::json!({
            "event": "note",
            "message": "devloop: no staged change under zones, devloop.toml; skipping",
        })]
    );
    assert_eq!(skipped.stderr, "", "the note is the report's, on stdout");

    let removed = repo.devloop(&["hook", "uninstall", "--format", "json"]);
    let lines = json(removed.success());
    assert_eq!(lines[0]["action"], "uninstall");
    assert_eq!(lines[0]["restored"], serde_json::Value::Null);
}
