//! `devloop inspect IMAGE|CONTAINER`: what an image is and where it comes from, for the
//! image and each ancestor the engine can show: its names (tags, registry digests), its
//! build info (OCI or label-schema labels, devloop's own), and its lifecycle methods. For
//! a container also its state, when it started, and the exact image it runs.
//!
//! Ancestors are found through the image history (a local build keeps its base's tag
//! there), else through the base labels a build stamped (`org.opencontainers.image.base.*`,
//! `devloop.build.base.id`), checked against the layers: a base's layers are a prefix of
//! its child's. A base that is declared but not on this engine is shown as such.

use std::collections::HashMap;

use crate::error::AppError;
use crate::events::{BuildLine, ContainerView, Event, ImageEvent, ImageView, Inspection};
use crate::exit;
use crate::metadata;
use crate::runtime::{self, ContainerFacts, Engine, ImageFacts, RuntimeError};
use crate::settings::Settings;
use crate::signal::Cancel;

/// How far up the ancestry goes; real chains are two or three deep.
const MAX_DEPTH: usize = 16;

/// What `inspect` was asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Image,
    Container,
}

pub(crate) struct InspectJob {
    pub target: String,
    pub kind: Option<Kind>,
    pub host: String,
    pub settings: Settings,
}

/// Looks the target up and shows it with its ancestry.
pub(crate) async fn execute(job: InspectJob, cancel: &Cancel) -> Result<i32, AppError> {
    let work = async {
        let engine = runtime::connect_endpoint(&job.host).await?;
        let mut container = None;
        if job.kind != Some(Kind::Image) {
            container = runtime::container_facts(&engine, &job.target).await?;
            if container.is_none() && job.kind == Some(Kind::Container) {
                return Err(RuntimeError::NoSuchContainer {
                    name: job.target.clone(),
                    host: job.host.clone(),
                });
            }
        }
        let (start, found_by) = match &container {
            Some(c) => (c.image_id.clone(), "the container's image"),
            None => (job.target.clone(), "named"),
        };
        let Some(image) = runtime::image_facts(&engine, &start).await? else {
            return Err(RuntimeError::ImageMissing {
                image: job.target.clone(),
                reason: format!("no image or container of that name on {}", job.host),
            });
        };
        let reference = match &container {
            Some(c) if !c.image_ref.is_empty() => c.image_ref.clone(),
            _ => job.target.clone(),
        };
        let chain = ancestry(&engine, reference, found_by, image).await?;
        let container_view = match container {
            Some(c) => Some(container_view(&engine, &job.host, c, &chain).await?),
            None => None,
        };
        Ok::<_, RuntimeError>((container_view, chain))
    };
    let (container, chain) = cancel.guard(work).await.map_err(AppError::Interrupted)??;
    job.settings
        .report(Event::Image(&ImageEvent::Inspected(Inspection {
            container,
            chain,
        })))?;
    Ok(exit::PASSED)
}

async fn container_view(
    engine: &Engine,
    host: &str,
    c: ContainerFacts,
    chain: &[ImageView],
) -> Result<ContainerView, RuntimeError> {
    let image_digests = chain.first().map(|i| i.digests.clone()).unwrap_or_default();
    // The name the container was created from may point elsewhere by now (a newer build).
    let image_now = if c.image_ref.is_empty() || c.image_ref.starts_with("sha256:") {
        None
    } else {
        runtime::image_facts(engine, &c.image_ref)
            .await?
            .map(|i| i.id)
            .filter(|id| *id != c.image_id)
    };
    Ok(ContainerView {
        host: host.to_owned(),
        methods: metadata::methods(&c.env, &c.labels),
        name: c.name,
        id: c.id,
        status: c.status,
        running: c.running,
        started_at: c.started_at,
        image: c.image_ref,
        image_id: c.image_id,
        image_digests,
        image_now,
    })
}

/// The image and each ancestor this engine can show, nearest first.
async fn ancestry(
    engine: &Engine,
    reference: String,
    found_by: &str,
    image: ImageFacts,
) -> Result<Vec<ImageView>, RuntimeError> {
    let mut facts: Vec<(String, String, Option<ImageFacts>)> =
        vec![(reference, found_by.to_owned(), Some(image))];
    while facts.len() < MAX_DEPTH {
        let Some((_, _, Some(current))) = facts.last() else {
            break;
        };
        let current = current.clone();
        match parent(engine, &current).await? {
            Parent::Found {
                reference,
                found_by,
                facts: parent,
            } => {
                // A loop would mean a confused engine; stop rather than spin.
                if facts
                    .iter()
                    .any(|(_, _, f)| f.as_ref().is_some_and(|f| f.id == parent.id))
                {
                    break;
                }
                facts.push((reference, found_by, Some(parent)));
            }
            Parent::Declared {
                reference,
                found_by,
            } => {
                facts.push((reference, found_by, None));
                break;
            }
            Parent::None => break,
        }
    }
    let mut views = Vec::new();
    for (depth, (reference, found_by, image)) in facts.iter().enumerate() {
        let base_labels = facts
            .get(depth + 1)
            .and_then(|(_, _, f)| f.as_ref())
            .map(|f| &f.labels);
        views.push(view(
            depth,
            reference,
            found_by,
            image.as_ref(),
            base_labels,
        ));
    }
    Ok(views)
}

enum Parent {
    Found {
        reference: String,
        found_by: String,
        facts: ImageFacts,
    },
    /// Named by a label, not on this engine.
    Declared {
        reference: String,
        found_by: String,
    },
    None,
}

async fn parent(engine: &Engine, image: &ImageFacts) -> Result<Parent, RuntimeError> {
    // The history of a local build names the base it was built on (the first tagged entry
    // below the image's own).
    let history = runtime::image_history(engine, &image.id)
        .await
        .unwrap_or_default();
    for entry in history.iter().skip(1) {
        if entry.id.as_deref() == Some(image.id.as_str()) {
            continue;
        }
        let (Some(id), Some(tag)) = (&entry.id, entry.tags.first()) else {
            continue;
        };
        if let Some(facts) = runtime::image_facts(engine, id).await? {
            return Ok(Parent::Found {
                reference: tag.clone(),
                found_by: "image history".into(),
                facts,
            });
        }
    }
    // Else the labels a build stamped, checked against the layers.
    let labels = &image.labels;
    let name = labels
        .get(metadata::OCI_BASE_NAME)
        .filter(|n| !n.is_empty());
    let mut candidates: Vec<(String, String)> = Vec::new();
    if let Some(id) = labels
        .get(metadata::BUILD_BASE_ID)
        .filter(|i| !i.is_empty())
    {
        candidates.push((id.clone(), format!("label {}", metadata::BUILD_BASE_ID)));
    }
    if let (Some(name), Some(digest)) = (name, labels.get(metadata::OCI_BASE_DIGEST)) {
        let repo = name.split('@').next().unwrap_or(name);
        let repo = strip_tag(repo);
        candidates.push((
            format!("{repo}@{digest}"),
            format!("label {}", metadata::OCI_BASE_DIGEST),
        ));
    }
    if let Some(name) = name {
        candidates.push((name.clone(), format!("label {}", metadata::OCI_BASE_NAME)));
    }
    for (candidate, found_by) in &candidates {
        if let Some(facts) = runtime::image_facts(engine, candidate).await? {
            let is_base = facts.id != image.id
                && facts.layers.len() < image.layers.len()
                && image.layers.starts_with(&facts.layers);
            if is_base {
                let reference = name.cloned().unwrap_or_else(|| candidate.clone());
                return Ok(Parent::Found {
                    reference,
                    found_by: found_by.clone(),
                    facts,
                });
            }
        }
    }
    match name {
        Some(name) => Ok(Parent::Declared {
            reference: name.clone(),
            found_by: format!("label {} (not on this engine)", metadata::OCI_BASE_NAME),
        }),
        None => Ok(Parent::None),
    }
}

/// `reg:5000/ns/name:tag` -> `reg:5000/ns/name`.
fn strip_tag(reference: &str) -> &str {
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => &reference[..last_slash + i],
        None => reference,
    }
}

fn view(
    depth: usize,
    reference: &str,
    found_by: &str,
    image: Option<&ImageFacts>,
    base_labels: Option<&HashMap<String, String>>,
) -> ImageView {
    let Some(image) = image else {
        return ImageView::absent(depth, reference, found_by);
    };
    let build = metadata::build_info(&image.labels)
        .into_iter()
        .map(|b| BuildLine {
            inherited: base_labels.is_some_and(|l| l.get(&b.key) == Some(&b.value)),
            field: b.field,
            value: b.value,
            key: b.key,
        })
        .collect();
    ImageView {
        depth,
        reference: reference.to_owned(),
        found_by: found_by.to_owned(),
        present: true,
        id: Some(image.id.clone()),
        tags: image.repo_tags.clone(),
        digests: image.repo_digests.clone(),
        created: image.created.clone(),
        build,
        methods: metadata::methods(&image.env, &image.labels),
        labels: image.labels.clone().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stripped_but_not_registry_ports() {
        assert_eq!(strip_tag("reg:5000/ns/rbl:prod"), "reg:5000/ns/rbl");
        assert_eq!(strip_tag("reg:5000/ns/rbl"), "reg:5000/ns/rbl");
        assert_eq!(strip_tag("debian:bookworm"), "debian");
    }

    #[test]
    fn inherited_labels_are_told_apart() {
        let base_labels: HashMap<String, String> = HashMap::from([
            (metadata::OCI_TITLE.to_owned(), "debian".to_owned()),
            (metadata::OCI_VERSION.to_owned(), "12".to_owned()),
        ]);
        let image = ImageFacts {
            id: "sha256:1".into(),
            labels: HashMap::from([
                (metadata::OCI_TITLE.to_owned(), "rbldnsd".to_owned()),
                (metadata::OCI_VERSION.to_owned(), "12".to_owned()),
            ]),
            ..ImageFacts::default()
        };
        let shown = view(0, "rbl", "named", Some(&image), Some(&base_labels));
        let title = shown
            .build
            .iter()
            .find(|b| b.field == "title")
            .expect("title");
        assert!(!title.inherited);
        let version = shown
            .build
            .iter()
            .find(|b| b.field == "version")
            .expect("version");
        assert!(version.inherited);
    }
}
