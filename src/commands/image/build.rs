//! `devloop build`: the service image, built through the Engine API from the project's
//! Dockerfile and stamped with what an operator later asks of it: when it was built, from
//! which revision (dirty or not), from where, which version, on what base, why (CI or by
//! hand), under which names, and the lifecycle methods it declares.
//!
//! Everything up to the engine happens in [`prepare`]: the labels, the base image read
//! from the Dockerfile, the context packed by `.dockerignore`. A mistake there is reported
//! before anything is sent.

mod context;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::error::AppError;
use crate::events::{Built, Event, ImageEvent};
use crate::exit;
use crate::metadata::{self, METHOD_ENV_SUFFIX, METHOD_LABEL_PREFIX};
use crate::runtime::{self, BuildFailure, BuildProgress, BuildRequest};
use crate::settings::{self, Settings};
use crate::signal::Cancel;

pub(crate) use context::ContextError;

/// What the command line adds to `[build]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildArgs {
    pub build_args: Vec<String>,
    pub tags: Vec<String>,
    pub no_cache: bool,
    pub cause: Option<String>,
    pub host: Option<String>,
}

/// A build, ready to send.
pub(crate) struct BuildJob {
    pub request: BuildRequest,
    pub image: String,
    /// The labels as stamped, sorted for display.
    pub labels: BTreeMap<String, String>,
    pub methods: BTreeMap<String, String>,
    pub context_dir: PathBuf,
    pub files: usize,
    pub host: String,
    pub settings: Settings,
}

/// Reads the environment; a trait object so that tests can pass a map.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Settles everything a build needs without the engine.
pub(crate) fn prepare(
    config: &Config,
    args: BuildArgs,
    settings: &Settings,
) -> Result<BuildJob, AppError> {
    crate::commands::task::check_report_path(settings)?;
    let spec = config.build.clone().unwrap_or_default();
    let Some(service) = &config.service else {
        return Err(AppError::usage(
            "this project declares no [service] image to build",
            Some("declare [service] image = \"name:tag\" (and [build] for the context, args and methods)".into()),
        ));
    };
    let context_dir = config.root.join(spec.context.as_deref().unwrap_or("."));
    let context_dir = std::fs::canonicalize(&context_dir).map_err(|source| AppError::Io {
        action: format!("opening the build context {}", context_dir.display()),
        source,
    })?;
    let dockerfile = spec
        .dockerfile
        .clone()
        .unwrap_or_else(|| "Dockerfile".to_owned());
    let dockerfile_path = context_dir.join(&dockerfile);
    let dockerfile_text = std::fs::read_to_string(&dockerfile_path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            AppError::usage(
                format!("no Dockerfile at {}", dockerfile_path.display()),
                Some(
                    "set [build] dockerfile (relative to [build] context, default \"Dockerfile\")"
                        .into(),
                ),
            )
        } else {
            AppError::Io {
                action: format!("reading {}", dockerfile_path.display()),
                source,
            }
        }
    })?;
    if !dockerfile_path.starts_with(&context_dir) {
        return Err(AppError::usage(
            format!(
                "[build] dockerfile {dockerfile} is outside the build context {}",
                context_dir.display()
            ),
            None,
        ));
    }

    let env = |key: &str| std::env::var(key).ok();
    let mut build_args: BTreeMap<String, String> = spec.args.clone();
    for arg in &args.build_args {
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            // `--build-arg NAME` takes the value from the environment, as docker does.
            None => match env(arg) {
                Some(v) => (arg.clone(), v),
                None => continue,
            },
        };
        if key.is_empty() {
            return Err(AppError::usage(
                format!("--build-arg `{arg}` has no name"),
                Some("write --build-arg NAME=VALUE".into()),
            ));
        }
        build_args.insert(key, value);
    }

    let mut tags = vec![service.image.clone()];
    for tag in spec.tags.iter().chain(&args.tags) {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    for name in spec.methods.keys() {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(AppError::usage(
                format!("[build] methods: `{name}` is not a method name"),
                Some("method names are words like start, update, validate, monitor".into()),
            ));
        }
    }

    let stamp_inputs = StampInputs {
        project: &config.project,
        image: &service.image,
        tags: &tags,
        base: final_base(&dockerfile_text, &build_args),
        git: git_facts(&context_dir),
        source_path: &context_dir,
        created: created_time(&env),
        cause: args.cause.clone(),
        methods: &spec.methods,
        extra: &spec.labels,
    };
    let labels = stamp(&stamp_inputs, &env);
    let packed = context::pack(&context_dir, &dockerfile).map_err(|e| match e {
        ContextError::Pattern { .. } => AppError::usage(e.to_string(), None),
        ContextError::Read { source, path } => AppError::Io {
            action: format!("reading the build context {}", path.display()),
            source,
        },
    })?;
    Ok(BuildJob {
        request: BuildRequest {
            context_tar: packed.tar,
            dockerfile,
            tags: tags.clone(),
            args: build_args.into_iter().collect(),
            labels: labels.clone().into_iter().collect(),
            no_cache: args.no_cache,
        },
        image: service.image.clone(),
        labels,
        methods: spec.methods.clone(),
        context_dir,
        files: packed.files,
        host: args.host.unwrap_or_else(runtime::default_host),
        settings: settings.clone(),
    })
}

/// What the labels are computed from.
pub(crate) struct StampInputs<'a> {
    pub project: &'a str,
    pub image: &'a str,
    pub tags: &'a [String],
    pub base: Option<String>,
    pub git: Option<GitFacts>,
    pub source_path: &'a Path,
    pub created: String,
    pub cause: Option<String>,
    pub methods: &'a BTreeMap<String, String>,
    pub extra: &'a BTreeMap<String, String>,
}

/// The labels a build stamps.
pub(crate) fn stamp(inputs: &StampInputs<'_>, env: Env<'_>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        labels.insert(key.to_owned(), value);
    };
    put(metadata::OCI_CREATED, inputs.created.clone());
    put(metadata::OCI_TITLE, inputs.project.to_owned());
    let git = inputs.git.as_ref();
    if let Some(revision) = git.and_then(|g| g.revision.as_ref()) {
        let dirty = if git.is_some_and(|g| g.dirty) {
            "-dirty"
        } else {
            ""
        };
        put(metadata::OCI_REVISION, format!("{revision}{dirty}"));
    }
    put(
        metadata::OCI_SOURCE,
        git.and_then(|g| g.remote.clone())
            .unwrap_or_else(|| inputs.source_path.display().to_string()),
    );
    let version = git.and_then(|g| g.describe.clone()).or_else(|| {
        let (_, tag) = split_tag(inputs.image);
        (tag != "latest").then(|| tag.to_owned())
    });
    if let Some(version) = version {
        put(metadata::OCI_VERSION, version);
    }
    if let Some(base) = &inputs.base {
        put(metadata::OCI_BASE_NAME, base.clone());
    }
    let ci = ci_detected(env);
    let cause = inputs
        .cause
        .clone()
        .unwrap_or_else(|| if ci { "ci" } else { "manual" }.to_owned());
    put(metadata::BUILD_CAUSE, cause);
    put(metadata::BUILD_CI, ci.to_string());
    put(metadata::BUILD_TAGS, inputs.tags.join(","));
    put(metadata::BUILD_PROJECT, inputs.project.to_owned());
    for (name, command) in inputs.methods {
        put(
            &format!("{METHOD_LABEL_PREFIX}{}", name.to_lowercase()),
            command.clone(),
        );
    }
    for (key, value) in inputs.extra {
        put(key, value.clone());
    }
    labels
}

/// Whether the environment says this is a CI run.
pub(crate) fn ci_detected(env: Env<'_>) -> bool {
    let set = |key: &str| {
        env(key).is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            !v.is_empty() && v != "false" && v != "0" && v != "no"
        })
    };
    [
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "BUILDKITE",
        "CIRCLECI",
        "TRAVIS",
        "JENKINS_URL",
        "TEAMCITY_VERSION",
        "TF_BUILD",
        "BITBUCKET_BUILD_NUMBER",
        "DRONE",
        "WOODPECKER",
    ]
    .iter()
    .any(|key| set(key))
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else now; RFC 3339, UTC.
fn created_time(env: Env<'_>) -> String {
    let seconds = env("SOURCE_DATE_EPOCH")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    rfc3339(seconds)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn split_tag(image: &str) -> (&str, &str) {
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) if !image.contains('@') => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        _ => (image, "latest"),
    }
}

/// What git says about the context directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GitFacts {
    pub revision: Option<String>,
    /// The context has changes that are not committed (untracked files included).
    pub dirty: bool,
    /// The `origin` remote's URL (or the first remote's), without credentials.
    pub remote: Option<String>,
    /// `git describe --tags --always`, with `-dirty` when `dirty`.
    pub describe: Option<String>,
}

/// Asks git about `dir`; `None` outside a work tree. Read-only: no lock is taken.
fn git_facts(dir: &Path) -> Option<GitFacts> {
    let git = |args: &[&str]| -> Option<String> {
        crate::git::run(dir, args)
            .ok()
            .map(|out| String::from_utf8_lossy(&out).trim().to_owned())
    };
    git(&["rev-parse", "--is-inside-work-tree"]).filter(|s| s == "true")?;
    let revision = git(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty());
    let dirty = git(&[
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        ".",
    ])
    .is_some_and(|s| !s.is_empty());
    let remote = git(&["remote", "get-url", "origin"])
        .or_else(|| {
            let first = git(&["remote"])?.lines().next()?.to_owned();
            git(&["remote", "get-url", &first])
        })
        .filter(|s| !s.is_empty())
        .map(|url| without_credentials(&url));
    let describe = revision.as_ref().and_then(|_| {
        git(&["describe", "--tags", "--always"])
            .filter(|s| !s.is_empty())
            .map(|d| if dirty { format!("{d}-dirty") } else { d })
    });
    Some(GitFacts {
        revision,
        dirty,
        remote,
        describe,
    })
}

/// `https://user:token@host/repo` -> `https://host/repo`: a label is public.
pub(crate) fn without_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}{path}");
        }
    }
    url.to_owned()
}

/// The base image of the Dockerfile's final stage, with `ARG`s substituted (build
/// arguments over the Dockerfile's defaults); a stage built on an earlier stage has that
/// stage's base. `None` for `scratch` or when it cannot be told.
pub(crate) fn final_base(dockerfile: &str, args: &BTreeMap<String, String>) -> Option<String> {
    let mut globals: HashMap<String, String> = HashMap::new();
    let mut stages: Vec<(Option<String>, String)> = Vec::new();
    let mut seen_from = false;
    for instruction in instructions(dockerfile) {
        let mut words = instruction.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for word in words {
                    let (name, default) = match word.split_once('=') {
                        Some((n, d)) => (n, Some(unquote(d))),
                        None => (word, None),
                    };
                    let value = args.get(name).cloned().or(default).unwrap_or_default();
                    globals.insert(name.to_owned(), value);
                }
            }
            "FROM" => {
                seen_from = true;
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else { continue };
                let image = substitute(image, &globals);
                let alias = match rest.get(1) {
                    Some(w) if w.eq_ignore_ascii_case("as") => {
                        rest.get(2).map(|a| a.to_ascii_lowercase())
                    }
                    _ => None,
                };
                // FROM an earlier stage: that stage's base.
                let base = stages
                    .iter()
                    .find(|(a, _)| a.as_deref() == Some(image.to_ascii_lowercase().as_str()))
                    .map(|(_, b)| b.clone())
                    .unwrap_or(image);
                stages.push((alias, base));
            }
            _ => {}
        }
    }
    stages
        .pop()
        .map(|(_, base)| base)
        .filter(|b| !b.is_empty() && b != "scratch")
}

/// The Dockerfile's instructions: comments dropped, continued lines joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') && current.is_empty() {
            continue;
        }
        if trimmed.starts_with('#') {
            // A comment inside a continued instruction is skipped, as Docker does.
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        if !current.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.clear();
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

fn unquote(value: &str) -> String {
    value.trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}`.
fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            let Some(close) = inner.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let expr = &inner[..close];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                vars.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some((name, alternative)) = expr.split_once(":+") {
                if vars.get(name).is_some_and(|v| !v.is_empty()) {
                    alternative.to_owned()
                } else {
                    String::new()
                }
            } else {
                vars.get(expr).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &inner[close + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(vars.get(&after[..end]).map_or("", String::as_str));
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Sends the build, shows its log as it comes, and reports the image.
pub(crate) async fn execute(job: BuildJob, cancel: &Cancel) -> Result<i32, AppError> {
    let started = Instant::now();
    let engine = cancel
        .guard(runtime::connect_endpoint(&job.host))
        .await
        .map_err(AppError::Interrupted)??;
    let mut job = job;
    stamp_base(&engine, &mut job).await;
    let mut reporters = job.settings.reporters();
    reporters.emit(Event::Note {
        message: format!(
            "building {} from {} ({} files, {} KiB of context)",
            job.image,
            job.context_dir.display(),
            job.files,
            job.request.context_tar.len().div_ceil(1024)
        ),
    });
    let mut on_progress =
        |progress: BuildProgress| reporters.emit(Event::Image(&ImageEvent::BuildLog(progress)));
    let built = cancel
        .guard(runtime::build_image(
            &engine,
            job.request.clone(),
            &mut on_progress,
        ))
        .await;
    let id = match built {
        Ok(Ok(id)) => id,
        Ok(Err(BuildFailure::Build(message))) => {
            reporters.emit(Event::Image(&ImageEvent::BuildFailed {
                image: job.image.clone(),
                error: message,
                duration: started.elapsed(),
            }));
            settings::finish(&mut reporters)?;
            return Ok(exit::CHECK_FAILED);
        }
        Ok(Err(BuildFailure::Engine(e))) => {
            settings::finish(&mut reporters)?;
            return Err(e.into());
        }
        Err(signal) => {
            settings::finish(&mut reporters)?;
            return Err(AppError::Interrupted(signal));
        }
    };
    let duration = started.elapsed();
    // A method the Dockerfile also sets as ENV is read from the environment first: say so
    // when the two disagree, or the label would mislead.
    let mut warnings = Vec::new();
    if let Ok(Some(image)) = runtime::image_facts(&engine, &id).await {
        for (name, command) in &job.methods {
            let key = format!("{}{METHOD_ENV_SUFFIX}=", name.to_uppercase());
            if let Some(env_value) = image.env.iter().find_map(|e| e.strip_prefix(&key)) {
                if env_value.trim() != command.trim() {
                    warnings.push(format!(
                        "the image's ENV {}{METHOD_ENV_SUFFIX}={env_value} (from the Dockerfile) overrides [build] methods.{name} = {command:?}: validate and update read the environment first",
                        name.to_uppercase()
                    ));
                }
            }
        }
    }
    reporters.emit(Event::Image(&ImageEvent::Built(Built {
        image: job.image.clone(),
        image_id: id,
        tags: job.request.tags.clone(),
        labels: job.labels.clone(),
        warnings,
        duration,
    })));
    settings::finish(&mut reporters)?;
    Ok(exit::PASSED)
}

/// The base image as this engine has it: its ID (`devloop.build.base.id`, how `inspect`
/// finds the base when the history does not tell), and its registry digest when it has
/// one (`org.opencontainers.image.base.digest`). Nothing when the base is not here yet
/// (the builder will pull it, or fail and say so).
async fn stamp_base(engine: &runtime::Engine, job: &mut BuildJob) {
    let Some(base) = job.labels.get(metadata::OCI_BASE_NAME).cloned() else {
        return;
    };
    let Ok(Some(facts)) = runtime::image_facts(engine, &base).await else {
        return;
    };
    let mut add = |key: &str, value: String| {
        if !job.labels.contains_key(key) {
            job.labels.insert(key.to_owned(), value.clone());
            job.request.labels.insert(key.to_owned(), value);
        }
    };
    add(metadata::BUILD_BASE_ID, facts.id.clone());
    let repo = split_tag(&base).0.to_owned();
    if let Some(digest) = facts
        .repo_digests
        .iter()
        .find_map(|d| d.strip_prefix(&format!("{repo}@")))
    {
        add(metadata::OCI_BASE_DIGEST, digest.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_comes_from_the_final_stage_with_args_substituted() {
        let dockerfile = "# syntax comment\nARG BASE=debian:bookworm\nFROM ${BASE}\nRUN true\n";
        let none = BTreeMap::new();
        assert_eq!(
            final_base(dockerfile, &none).as_deref(),
            Some("debian:bookworm")
        );
        let args = BTreeMap::from([("BASE".to_owned(), "devloop/debian:bookworm".to_owned())]);
        assert_eq!(
            final_base(dockerfile, &args).as_deref(),
            Some("devloop/debian:bookworm")
        );
        let multi = "ARG GO=1.22\nFROM golang:$GO AS build\nRUN make\nFROM --platform=linux/amd64 \\\n  debian:bookworm-slim\nCOPY --from=build /x /x\n";
        assert_eq!(
            final_base(multi, &none).as_deref(),
            Some("debian:bookworm-slim")
        );
        let from_stage = "FROM alpine:3 AS base\nFROM base\n";
        assert_eq!(final_base(from_stage, &none).as_deref(), Some("alpine:3"));
        assert_eq!(final_base("FROM scratch\n", &none), None);
        assert_eq!(
            final_base("ARG B\nFROM ${B:-debian:12}\n", &none).as_deref(),
            Some("debian:12")
        );
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_435_200), "2026-11-23T12:00:00Z");
    }

    #[test]
    fn credentials_never_reach_a_label() {
        assert_eq!(
            without_credentials("https://bot:s3cret@git.example.net/ops/rbl.git"),
            "https://git.example.net/ops/rbl.git"
        );
        assert_eq!(
            without_credentials("git@github.com:ops/rbl.git"),
            "git@github.com:ops/rbl.git"
        );
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn ci_is_told_from_the_environment() {
        assert!(ci_detected(&env_of(&[("CI", "true")])));
        assert!(ci_detected(&env_of(&[("GITHUB_ACTIONS", "true")])));
        assert!(ci_detected(&env_of(&[("GITLAB_CI", "true")])));
        assert!(!ci_detected(&env_of(&[("CI", "false")])));
        assert!(!ci_detected(&env_of(&[])));
    }

    #[test]
    fn labels_carry_build_info_tags_cause_and_methods() {
        let methods = BTreeMap::from([
            ("validate".to_owned(), "/service/bin/validate".to_owned()),
            ("UPDATE".to_owned(), "/service/bin/update".to_owned()),
        ]);
        let extra = BTreeMap::from([(
            "org.opencontainers.image.vendor".to_owned(),
            "Ops".to_owned(),
        )]);
        let tags = vec!["reg/rbl:latest".to_owned(), "reg/rbl:1.2".to_owned()];
        let inputs = StampInputs {
            project: "rbl",
            image: "reg/rbl:latest",
            tags: &tags,
            base: Some("devloop/debian:bookworm".to_owned()),
            git: Some(GitFacts {
                revision: Some("abc123".to_owned()),
                dirty: true,
                remote: Some("https://git.example.net/ops/rbl.git".to_owned()),
                describe: Some("v1.2-3-gabc123-dirty".to_owned()),
            }),
            source_path: Path::new("/src/rbl"),
            created: "2026-11-23T08:00:00Z".to_owned(),
            cause: None,
            methods: &methods,
            extra: &extra,
        };
        let labels = stamp(&inputs, &env_of(&[("GITLAB_CI", "true")]));
        let get = |k: &str| labels.get(k).map(String::as_str);
        assert_eq!(get(metadata::OCI_REVISION), Some("abc123-dirty"));
        assert_eq!(
            get(metadata::OCI_SOURCE),
            Some("https://git.example.net/ops/rbl.git")
        );
        assert_eq!(get(metadata::OCI_VERSION), Some("v1.2-3-gabc123-dirty"));
        assert_eq!(get(metadata::OCI_TITLE), Some("rbl"));
        assert_eq!(get(metadata::OCI_CREATED), Some("2026-11-23T08:00:00Z"));
        assert_eq!(
            get(metadata::OCI_BASE_NAME),
            Some("devloop/debian:bookworm")
        );
        assert_eq!(get(metadata::BUILD_CAUSE), Some("ci"));
        assert_eq!(get(metadata::BUILD_CI), Some("true"));
        assert_eq!(
            get(metadata::BUILD_TAGS),
            Some("reg/rbl:latest,reg/rbl:1.2")
        );
        assert_eq!(
            get("devloop.method.validate"),
            Some("/service/bin/validate")
        );
        assert_eq!(get("devloop.method.update"), Some("/service/bin/update"));
        assert_eq!(get("org.opencontainers.image.vendor"), Some("Ops"));

        let outside_git = StampInputs {
            git: None,
            image: "reg/rbl:1.2",
            cause: Some("webhook".to_owned()),
            ..inputs
        };
        let labels = stamp(&outside_git, &env_of(&[]));
        assert_eq!(
            labels.get(metadata::OCI_SOURCE).map(String::as_str),
            Some("/src/rbl")
        );
        assert_eq!(
            labels.get(metadata::OCI_VERSION).map(String::as_str),
            Some("1.2")
        );
        assert!(!labels.contains_key(metadata::OCI_REVISION));
        assert_eq!(
            labels.get(metadata::BUILD_CAUSE).map(String::as_str),
            Some("webhook")
        );
        assert_eq!(
            labels.get(metadata::BUILD_CI).map(String::as_str),
            Some("false")
        );
    }
}
