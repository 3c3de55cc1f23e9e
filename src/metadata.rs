//! The metadata an image carries, read from its labels and environment: build info under
//! the OCI annotation keys (`org.opencontainers.image.*`), the older label-schema keys
//! (`org.label-schema.*`) and devloop's own (`devloop.build.*`), and the lifecycle methods
//! (`<METHOD>_METHOD` environment variables and `devloop.method.<method>` labels). Pure:
//! `build` writes these keys, `inspect` and `lifecycle` read them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

pub(crate) const OCI_CREATED: &str = "org.opencontainers.image.created";
pub(crate) const OCI_REVISION: &str = "org.opencontainers.image.revision";
pub(crate) const OCI_SOURCE: &str = "org.opencontainers.image.source";
pub(crate) const OCI_VERSION: &str = "org.opencontainers.image.version";
pub(crate) const OCI_TITLE: &str = "org.opencontainers.image.title";
pub(crate) const OCI_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub(crate) const OCI_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// Why the image was built: `ci`, `manual`, or what `--cause` said.
pub(crate) const BUILD_CAUSE: &str = "devloop.build.cause";
/// `true` when the build ran under CI.
pub(crate) const BUILD_CI: &str = "devloop.build.ci";
/// Every name the build gave the image, comma-separated.
pub(crate) const BUILD_TAGS: &str = "devloop.build.tags";
/// The project (devloop.toml's) that built it.
pub(crate) const BUILD_PROJECT: &str = "devloop.build.project";
/// The image ID of the base image at build time (a local build has no registry digest).
pub(crate) const BUILD_BASE_ID: &str = "devloop.build.base.id";
pub(crate) const METHOD_LABEL_PREFIX: &str = "devloop.method.";
pub(crate) const METHOD_ENV_SUFFIX: &str = "_METHOD";

/// One piece of build info: what it is, its value, and the label it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BuildField {
    pub field: &'static str,
    pub value: String,
    pub key: String,
}

/// The fields, in the order they are shown, each with the keys that may hold it: the OCI
/// key first, then the label-schema one, then devloop's.
const FIELDS: &[(&str, &[&str])] = &[
    ("title", &[OCI_TITLE, "org.label-schema.name"]),
    ("version", &[OCI_VERSION, "org.label-schema.version"]),
    ("revision", &[OCI_REVISION, "org.label-schema.vcs-ref"]),
    ("source", &[OCI_SOURCE, "org.label-schema.vcs-url"]),
    (
        "url",
        &["org.opencontainers.image.url", "org.label-schema.url"],
    ),
    ("created", &[OCI_CREATED, "org.label-schema.build-date"]),
    (
        "vendor",
        &["org.opencontainers.image.vendor", "org.label-schema.vendor"],
    ),
    (
        "description",
        &[
            "org.opencontainers.image.description",
            "org.label-schema.description",
        ],
    ),
    ("base", &[OCI_BASE_NAME]),
    ("base digest", &[OCI_BASE_DIGEST]),
    ("base id", &[BUILD_BASE_ID]),
    ("cause", &[BUILD_CAUSE]),
    ("ci", &[BUILD_CI]),
    ("tags", &[BUILD_TAGS]),
    ("project", &[BUILD_PROJECT]),
];

/// The build info in `labels`, under whichever convention the image uses.
pub(crate) fn build_info(labels: &HashMap<String, String>) -> Vec<BuildField> {
    FIELDS
        .iter()
        .filter_map(|(field, keys)| {
            keys.iter().find_map(|key| {
                labels
                    .get(*key)
                    .filter(|v| !v.trim().is_empty())
                    .map(|value| BuildField {
                        field,
                        value: value.clone(),
                        key: (*key).to_owned(),
                    })
            })
        })
        .collect()
}

/// A lifecycle method an image or container declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Method {
    /// Upper case: START, UPDATE, VALIDATE, MONITOR, METRICS...
    pub name: String,
    /// The command that runs, as `validate` and `update` run it.
    pub command: String,
    /// Where it is declared: `env START_METHOD`, `label devloop.method.start`.
    pub declared_by: Vec<String>,
    /// The other declaration's command, when the two disagree (the environment wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// Every method declared by `env` (`NAME_METHOD=command`) or `labels`
/// (`devloop.method.name`), by name.
pub(crate) fn methods(env: &[String], labels: &HashMap<String, String>) -> Vec<Method> {
    let mut by_name: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for entry in env {
        let Some((key, value)) = entry.split_once('=') else {
            continue;
        };
        let Some(name) = key.strip_suffix(METHOD_ENV_SUFFIX) else {
            continue;
        };
        if name.is_empty() || value.trim().is_empty() {
            continue;
        }
        by_name.entry(name.to_uppercase()).or_default().0 = Some(value.to_owned());
    }
    for (key, value) in labels {
        let Some(name) = key.strip_prefix(METHOD_LABEL_PREFIX) else {
            continue;
        };
        if name.is_empty() || value.trim().is_empty() {
            continue;
        }
        by_name.entry(name.to_uppercase()).or_default().1 = Some(value.clone());
    }
    let order = |name: &str| match name {
        "START" => 0,
        "UPDATE" => 1,
        "VALIDATE" => 2,
        "MONITOR" => 3,
        "METRICS" => 4,
        _ => 5,
    };
    let mut out: Vec<Method> = by_name
        .into_iter()
        .filter_map(|(name, (from_env, from_label))| {
            let mut declared_by = Vec::new();
            if from_env.is_some() {
                declared_by.push(format!("env {name}{METHOD_ENV_SUFFIX}"));
            }
            if from_label.is_some() {
                declared_by.push(format!(
                    "label {METHOD_LABEL_PREFIX}{}",
                    name.to_lowercase()
                ));
            }
            let conflict = match (&from_env, &from_label) {
                (Some(e), Some(l)) if e.trim() != l.trim() => Some(l.clone()),
                _ => None,
            };
            let command = from_env.or(from_label)?;
            Some(Method {
                name,
                command,
                declared_by,
                conflict,
            })
        })
        .collect();
    out.sort_by_key(|m| order(&m.name));
    out
}

/// The command of one method, if declared (the environment first, then the label).
pub(crate) fn method(
    env: &[String],
    labels: &HashMap<String, String>,
    name: &str,
) -> Option<String> {
    methods(env, labels)
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .map(|m| m.command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn oci_keys_win_over_label_schema() {
        let info = build_info(&labels(&[
            ("org.label-schema.vcs-ref", "old"),
            (OCI_REVISION, "abc123-dirty"),
            ("org.label-schema.build-date", "2020-01-01T00:00:00Z"),
            ("org.label-schema.name", "legacy"),
        ]));
        let get = |f: &str| info.iter().find(|b| b.field == f).cloned();
        assert_eq!(
            get("revision").map(|b| b.value).as_deref(),
            Some("abc123-dirty")
        );
        let created = get("created").expect("created");
        assert_eq!(created.value, "2020-01-01T00:00:00Z");
        assert_eq!(created.key, "org.label-schema.build-date");
        assert_eq!(get("title").map(|b| b.value).as_deref(), Some("legacy"));
        assert_eq!(info.first().map(|b| b.field), Some("title"));
    }

    #[test]
    fn methods_come_from_env_and_labels_and_conflicts_are_told() {
        let env = vec![
            "PATH=/usr/bin".to_owned(),
            "UPDATE_METHOD=/service/bin/update".to_owned(),
            "VALIDATE_METHOD=/service/bin/validate".to_owned(),
        ];
        let found = methods(
            &env,
            &labels(&[
                ("devloop.method.validate", "/service/bin/validate"),
                ("devloop.method.update", "/other/update"),
                ("devloop.method.start", "/service/bin/start"),
            ]),
        );
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["START", "UPDATE", "VALIDATE"]);
        assert_eq!(found[1].command, "/service/bin/update");
        assert_eq!(found[1].conflict.as_deref(), Some("/other/update"));
        assert_eq!(
            found[2].declared_by,
            ["env VALIDATE_METHOD", "label devloop.method.validate"]
        );
        assert_eq!(found[2].conflict, None);
        assert_eq!(
            method(&env, &HashMap::new(), "validate").as_deref(),
            Some("/service/bin/validate")
        );
        assert_eq!(method(&env, &HashMap::new(), "monitor"), None);
    }
}
