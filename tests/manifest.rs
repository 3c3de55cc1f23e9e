//! Cargo.toml states the real minimum Rust: its `rust-version` is no lower than what any
//! package in Cargo.lock asks for, as `cargo metadata` reports it. (No older toolchain is
//! to be had offline to build with; this is the check that holds the field honest. The
//! code's own use of the standard library is held to the field by clippy's
//! `incompatible_msrv` lint, which reads it.)

use std::process::Command;

/// `1.88`, `1.85.0` -> comparable numbers.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("{text:?} is not a version"))
        })
        .collect();
    parts.resize(3, 0);
    parts
}

fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

#[test]
fn rust_version_is_no_lower_than_any_dependency_asks() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let ours = packages
        .iter()
        .find(|p| p["name"] == env!("CARGO_PKG_NAME"))
        .expect("this package");
    let stated = ours["rust_version"]
        .as_str()
        .expect("Cargo.toml states a rust-version");
    let mut above: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let asks = p["rust_version"].as_str()?;
            (version(asks) > version(stated)).then(|| {
                format!(
                    "{} {} asks for Rust {asks}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                )
            })
        })
        .collect();
    above.sort();
    assert!(
        above.is_empty(),
        "Cargo.toml says rust-version = \"{stated}\", but:\n  {}",
        above.join("\n  ")
    );
}
