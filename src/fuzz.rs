//! Property tests of loading and planning: whatever bytes are in `devloop.toml`, devloop
//! answers with a config or an error, never a panic or an endless expansion. Inputs are
//! arbitrary bytes and the shipped configs (examples and templates) mutated.
//!
//! `DEVLOOP_FUZZ_CASES` sets the number of cases of each property. The default, 2 000,
//! keeps `cargo test --lib` quick while working; `scripts/test` runs 100 000 of each.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config as Settings, TestRunner};

use crate::config::{self, Config, FILE_NAME};
use crate::plan;

const DEFAULT_CASES: u32 = 2_000;

/// The configs devloop ships, and one that uses every kind of reference once (checks
/// that use checks, prerequisites, `each`, port variables): the seeds of the mutations.
const SEEDS: [&str; 6] = [
    include_str!("../examples/rbldnsd/devloop.toml"),
    include_str!("../examples/bind/devloop.toml"),
    include_str!("../templates/rbldnsd/devloop.toml"),
    include_str!("../templates/bind/devloop.toml"),
    include_str!("../templates/generic/devloop.toml"),
    REFERENCES,
];

const REFERENCES: &str = r#"
[service]
image = "devloop-example/rbldnsd:latest"
ports = ["5301/udp", "5301/tcp"]
ready = { dns = "5301/udp", name = "test.bl.rbl", timeout = "5s" }
reload = { signal = "HUP", log = "reloaded", timeout = "1s" }

[construct]
scope = "zones.yaml"
outputs = [{ template = "templates/master_zones.j2", output = "conf/out", mode = "0644" }]

[check.outer]
check = "inner"
[check.inner]
check = "leaf"
[check.leaf]
dns = "{host}.bl.rbl"
port = "5301/tcp"

[task.a]
deps = ["b"]
args = [{ name = "host", kind = "host" }]
steps = [{ check = "outer" }, { sh = 'dig -p "$DEVLOOP_PORT_5301_UDP" "$host"' }]
[task.b]
deps = ["c"]
steps = [{ run = ["echo", "{zone_path}"], each = { glob = "zones/*.zone", as = "zone" } }]
[task.c]
steps = [{ construct = "check" }, { exec = ["true"], each = { scope = "zones", as = "zone" } }]

[watch]
paths = ["zones", "!zones/tmp"]
[hook]
paths = ["zones/**/*.zone"]
"#;

/// Text that means something to the parser or to validation, spliced in by mutations.
const TOKENS: [&str; 40] = [
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "=",
    ",",
    "\n",
    ".",
    "#",
    "\\",
    "[[",
    "]]",
    "{host}",
    "{zone}",
    "{{",
    "}}",
    "${host}",
    "../",
    "/",
    "*",
    "**",
    "!",
    "99999999999999999999999s",
    "86401s",
    "1e999ms",
    "-1",
    "0",
    "65536",
    "check = \"blacklisted\"",
    "check = \"loop\"\n[check.loop]\ncheck = \"loop\"",
    "deps = [\"test\"]",
    "DEVLOOP_PORT_5301_UDP",
    "DEVLOOP_PORT_1_TCP",
    "port = \"5302/udp\"",
    "each = { glob = \"zones/*.zone\", as = \"zone\" }",
    "output = \"../../x\"",
    "mount = \"rel\"",
    "\u{0}",
];

/// Values put in place of a string's contents: each is what some check must refuse, or
/// what must not trip anything up.
const VALUES: [&str; 32] = [
    "outer",
    "inner",
    "a",
    "b",
    "",
    "99999999999999999999999s",
    "10000000000000000000s",
    "86401s",
    "0ms",
    "1.5.5s",
    "5302/udp",
    "0/tcp",
    "65536",
    "53/sctp",
    "{host}",
    "{nope}",
    "{{",
    "../../../x",
    "/tmp/x",
    "loop",
    "test",
    "check",
    "DEVLOOP_PORT_9_UDP",
    "$DEVLOOP_PORT_5301_TCP",
    "relative",
    "(",
    "[",
    "zones/**",
    "!zones",
    "\\",
    "HUPP",
    "0999",
];

/// The byte ranges of the contents of `"..."` strings that stay on one line.
fn quoted(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (i, b) in bytes.iter().enumerate() {
        match (b, open) {
            (b'"', None) => open = Some(i + 1),
            (b'"', Some(start)) => {
                out.push((start, i));
                open = None;
            }
            (b'\n', Some(_)) => open = None,
            _ => {}
        }
    }
    out
}

/// A change to a config's text. Positions are taken modulo the text's length.
#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        token: usize,
    },
    InsertBytes {
        at: usize,
        bytes: Vec<u8>,
    },
    DuplicateLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    DeleteLine {
        line: usize,
    },
    /// Replaces what is between the quotes of the n-th string on one line with a token,
    /// so values (durations, ports, names, paths) meet what validation must catch.
    ReplaceString {
        nth: usize,
        token: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Values in the right places reach validation and planning; raw edits mostly stop
    // at the TOML syntax, so they get less weight.
    prop_oneof![
        1 => (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::InsertBytes { at, bytes }),
        1 => any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        1 => any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        6 => (any::<usize>(), 0..VALUES.len())
            .prop_map(|(nth, token)| Mutation::ReplaceString { nth, token }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for mutation in mutations {
        let len = bytes.len().max(1);
        match mutation {
            Mutation::Delete { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Insert { at, token } => {
                let at = (at % len).min(bytes.len());
                let token = TOKENS[*token].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            Mutation::InsertBytes { at, bytes: new } => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::DuplicateLine { line } | Mutation::DeleteLine { line } => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let i = line % lines.len();
                if matches!(mutation, Mutation::DuplicateLine { .. }) {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                } else {
                    lines.remove(i);
                }
                bytes = lines.join(&b'\n');
            }
            Mutation::ReplaceString { nth, token } => {
                let strings = quoted(&bytes);
                if !strings.is_empty() {
                    let (start, end) = strings[nth % strings.len()];
                    let token = VALUES[*token].as_bytes();
                    bytes.splice(start..end, token.iter().copied());
                }
            }
            Mutation::SwapLines { a, b } => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                bytes = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A project directory with the BIND example's files (zones, scope, templates), so that
/// `each` globs and scopes find something to expand over. Made once, read only.
fn project() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bind");
        for sub in ["zones", "templates", "conf"] {
            let from = example.join(sub);
            let to = dir.path().join(sub);
            std::fs::create_dir_all(&to).expect("mkdir");
            for entry in std::fs::read_dir(&from).expect("read example").flatten() {
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
            }
        }
        std::fs::copy(example.join("zones.yaml"), dir.path().join("zones.yaml")).expect("copy");
        let path = dir.path().join(FILE_NAME);
        (dir, path)
    })
    .1
}

/// Loads the text as `devloop.toml`; when it loads, plans every task with every argument
/// given. Either may fail; neither may panic.
fn load_and_plan(text: String) {
    let Ok(config) = config::parse(project(), text) else {
        return;
    };
    plan_all(&config);
}

fn plan_all(config: &Config) {
    for task in config.tasks.values() {
        let given: Vec<String> = task
            .args
            .iter()
            .map(|a| format!("{}=a.example", a.name))
            .collect();
        // Unbound placeholders are planned too when the arguments do not bind.
        let args = plan::bind_args(task, &given, &mut |_| None).unwrap_or_default();
        let _ = plan::plan(config, task, args);
    }
}

fn runner() -> TestRunner {
    let cases = std::env::var("DEVLOOP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    TestRunner::new(Settings {
        cases,
        // A failure prints the smallest input found; nothing is written into the tree.
        failure_persistence: None,
        ..Settings::default()
    })
}

#[test]
fn every_shipped_config_loads_and_plans() {
    for seed in SEEDS {
        let config = config::parse(project(), seed.to_owned()).expect("a shipped config loads");
        plan_all(&config);
    }
}

/// One test for both properties, one after the other: a long run keeps to one core, and
/// the unit tests beside it (some with tight timeouts) keep the other.
#[test]
fn arbitrary_bytes_and_mutated_shipped_configs_never_panic() {
    let bytes = runner().run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
        load_and_plan(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    });
    if let Err(e) = bytes {
        panic!("arbitrary bytes: {e}");
    }
    let strategy = (0..SEEDS.len(), proptest::collection::vec(mutation(), 1..6));
    let mutated = runner().run(&strategy, |(seed, mutations)| {
        load_and_plan(apply(SEEDS[seed], &mutations));
        Ok(())
    });
    if let Err(e) = mutated {
        panic!("a mutated shipped config: {e}");
    }
}
