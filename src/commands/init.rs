//! `devloop init`: a commented `devloop.toml` from one of the templates of the top-level
//! `templates/` folder, which are built into the binary. When no template is named, the
//! files present (a Dockerfile, `named.conf`, zone files) pick one.

use std::path::{Path, PathBuf};

use crate::config::FILE_NAME;
use crate::error::AppError;
use crate::events::{Event, Initialized, ProjectEvent};
use crate::settings::Settings;
use crate::templates::{NAMES, TEMPLATES, Template};
use crate::{exit, fsutil};

/// `devloop init [--template NAME] [--force]`, and `devloop init --list`.
pub(crate) fn run(
    settings: &Settings,
    template: Option<&str>,
    force: bool,
    list: bool,
) -> Result<i32, AppError> {
    if list {
        settings.report(Event::Project(&ProjectEvent::Templates(&TEMPLATES)))?;
        return Ok(exit::PASSED);
    }
    let dir = settings.start.clone();
    let target = settings
        .file
        .as_ref()
        .map_or_else(|| dir.join(FILE_NAME), |f| settings.typed_path(f));
    let (chosen, why) = match template {
        Some(name) => (find(name)?, None),
        None => {
            let (name, why) = guess(&dir);
            (find(name)?, Some(why))
        }
    };
    if target.exists() && !force {
        return Err(AppError::usage(
            format!("{} exists already; left as is", target.display()),
            Some("overwrite it with devloop init --force".into()),
        ));
    }
    fsutil::write_atomic_with_mode(&target, chosen.contents.as_bytes(), Some(0o644)).map_err(
        |source| AppError::Io {
            action: format!("writing {}", target.display()),
            source,
        },
    )?;
    settings.report(Event::Project(&ProjectEvent::Initialized(Initialized {
        path: target.display().to_string(),
        template: chosen.name,
        guessed: why,
    })))?;
    Ok(exit::PASSED)
}

fn find(name: &str) -> Result<&'static Template, AppError> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        AppError::usage(
            format!("no template named `{name}`"),
            Some(format!("templates: {}", NAMES.join(", "))),
        )
    })
}

/// The template that fits the files in `dir`, and why.
fn guess(dir: &Path) -> (&'static str, String) {
    for name in ["Dockerfile", "Containerfile"] {
        let Some(text) = read_head(&dir.join(name)) else {
            continue;
        };
        if text.contains("rbldnsd") {
            return ("rbldnsd", format!("the {name} mentions rbldnsd"));
        }
        if text.contains("bind9") || words(&text).any(|w| w == "named") {
            return ("bind", format!("the {name} mentions bind9 or named"));
        }
    }
    for name in [
        "named.conf",
        "conf/named.conf",
        "etc/named.conf",
        "etc/bind/named.conf",
        "zones.yaml",
    ] {
        if dir.join(name).is_file() {
            return ("bind", format!("found {name}"));
        }
    }
    for file in data_files(dir) {
        let Some(text) = read_head(&file) else {
            continue;
        };
        let shown = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        if looks_like_rbldnsd(&text) {
            return ("rbldnsd", format!("{shown} looks like rbldnsd data"));
        }
        if looks_like_zone(&text) {
            return ("bind", format!("{shown} looks like a DNS zone file"));
        }
    }
    ("generic", "no rbldnsd or BIND files found".to_owned())
}

/// The files of `zones/` (or `data/`), a few dozen at most: enough to tell.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["zones", "data"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .take(64)
        .collect();
    files.sort();
    files
}

/// rbldnsd's formats give each entry a value `:127.0.0.N:text` (or start a block with one);
/// `$DATASET` belongs to its combined dataset. A zone file has none of these.
fn looks_like_rbldnsd(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .any(|line| {
            line.starts_with("$DATASET")
                || line
                    .split_whitespace()
                    .any(|w| w.starts_with(":127.") || w.starts_with(":127:"))
        })
}

fn looks_like_zone(text: &str) -> bool {
    text.lines().any(|l| {
        let upper = l.to_ascii_uppercase();
        l.starts_with("$ORIGIN") || words(&upper).any(|w| w == "SOA")
    })
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
}

/// The first 64 KiB of a file, as text.
fn read_head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for t in &TEMPLATES {
            crate::config::parse(Path::new("/project/devloop.toml"), t.contents.to_owned())
                .unwrap_or_else(|e| panic!("template {}: {e}", t.name));
        }
    }

    #[test]
    fn rbldnsd_data_is_told_from_a_zone_file() {
        assert!(looks_like_rbldnsd(
            "# bl\n.mailingliststart.com :127.0.0.2:Excessive spam\n"
        ));
        assert!(looks_like_rbldnsd(":127.0.0.2:Whitelisted\ntest\n"));
        assert!(!looks_like_rbldnsd(
            "$TTL 3600\n@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A 192.0.2.1\n"
        ));
        assert!(looks_like_zone("@ IN SOA ns1 hostmaster 1 2 3 4 5\n"));
        assert!(!looks_like_zone(".example.com :127.0.0.2:spam\n"));
    }

    fn guess_in(files: &[(&str, &str)]) -> &'static str {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        guess(dir.path()).0
    }

    #[test]
    fn the_template_is_guessed_from_the_files() {
        assert_eq!(
            guess_in(&[("Dockerfile", "RUN apt-get install -y rbldnsd\n")]),
            "rbldnsd"
        );
        assert_eq!(
            guess_in(&[("Dockerfile", "RUN apt-get install bind9\n")]),
            "bind"
        );
        assert_eq!(guess_in(&[("conf/named.conf", "options {};\n")]), "bind");
        assert_eq!(guess_in(&[("zones.yaml", "zones: []\n")]), "bind");
        assert_eq!(
            guess_in(&[("zones/bl", ".spam.example :127.0.0.2:spam\n")]),
            "rbldnsd"
        );
        assert_eq!(
            guess_in(&[("zones/example.com", "@ IN SOA ns1 h 1 2 3 4 5\n")]),
            "bind"
        );
        assert_eq!(guess_in(&[("README", "hello\n")]), "generic");
        assert_eq!(guess_in(&[]), "generic");
    }
}
