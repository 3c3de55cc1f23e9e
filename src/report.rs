//! Reporters: the terminal, JSON Lines and JUnit XML views of one event stream, and the
//! only writers of stdout (but for the shell's terminal, which `runtime::attach` relays).

mod human;
mod json;
mod junit;

pub(crate) use human::Human;
pub(crate) use json::Json;
pub(crate) use junit::Junit;

/// An image ID as the tables show it: the first 12 hex digits.
pub(crate) fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Milliseconds, as every report shows durations.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// Every command reports through the event stream: nothing outside `report` prints,
    /// takes stdout or builds JSON by hand. One file may: `runtime::attach` relays the
    /// shell's terminal, which is no report.
    #[test]
    fn only_the_reporters_write_stdout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let writer = regex::Regex::new(r"(^|[^e])print(ln)?!|stdout\(\)|json!").expect("regex");
        let allowed = ["src/runtime/attach.rs"];
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        let mut writers = Vec::new();
        for file in files {
            let relative = file.strip_prefix(root).expect("under the root");
            let shown = relative.to_string_lossy().into_owned();
            if shown.starts_with("src/report") || allowed.contains(&shown.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read a source");
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                // The reporters are made where the settings are: JSON Lines take stdout.
                let reporter =
                    shown == "src/settings.rs" && line.contains("Json::new(std::io::stdout())");
                if writer.is_match(line) && !line.starts_with("//") && !reporter {
                    writers.push(format!("{shown}:{}: {line}", n + 1));
                }
            }
        }
        assert!(
            writers.is_empty(),
            "stdout written outside src/report/:\n{}",
            writers.join("\n")
        );
    }
}
