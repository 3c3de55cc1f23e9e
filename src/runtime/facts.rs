//! What an engine knows about an image or a container, read once and kept as plain data:
//! the metadata that `inspect`, `validate`, `update` and `--image-from` work from.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;

use super::{CALL_DEADLINE, Engine, RuntimeError, api_error};

/// An image as the engine describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageFacts {
    /// The image ID: the digest of its configuration, the same on every engine that has it.
    pub id: String,
    pub repo_tags: Vec<String>,
    /// `name@sha256:...` for images pulled from or pushed to a registry.
    pub repo_digests: Vec<String>,
    pub created: Option<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// The layer digests, bottom first: a base image's layers are a prefix of these.
    pub layers: Vec<String>,
}

/// One entry of an image's history, newest first.
#[derive(Debug, Clone)]
pub(crate) struct HistoryEntry {
    /// The ID of a local image that ends at this entry; `None` for `<missing>`.
    pub id: Option<String>,
    pub tags: Vec<String>,
}

/// A container as the engine describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerFacts {
    pub id: String,
    pub name: String,
    /// The ID of the image it runs.
    pub image_id: String,
    /// The image reference it was created from, as given (`name:tag`, an ID...).
    pub image_ref: String,
    pub status: String,
    pub running: bool,
    pub started_at: Option<String>,
    /// The container's environment: the image's, with what `docker run -e` added.
    pub env: Vec<String>,
    /// The container's labels: the image's, with what `docker run -l` added.
    pub labels: HashMap<String, String>,
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The image `reference` names (a name, `name:tag`, `name@digest` or an ID), or `None`
/// when the engine has no such image.
pub(crate) async fn image_facts(
    engine: &Engine,
    reference: &str,
) -> Result<Option<ImageFacts>, RuntimeError> {
    let action = format!("inspecting image {reference}");
    let request = engine.docker.inspect_image(reference);
    let inspect = match engine.answer(&action, CALL_DEADLINE, request).await? {
        Ok(inspect) => inspect,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(api_error(action, e)),
    };
    let config = inspect.config.unwrap_or_default();
    Ok(Some(ImageFacts {
        id: inspect.id.unwrap_or_default(),
        repo_tags: inspect.repo_tags.unwrap_or_default(),
        repo_digests: inspect.repo_digests.unwrap_or_default(),
        created: inspect.created.filter(|c| !c.is_empty()),
        env: config.env.unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
        layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
    }))
}

/// The history of an image, newest entry first.
pub(crate) async fn image_history(
    engine: &Engine,
    reference: &str,
) -> Result<Vec<HistoryEntry>, RuntimeError> {
    let history = engine
        .call(
            format!("reading the history of {reference}"),
            engine.docker.image_history(reference),
        )
        .await?;
    Ok(history
        .into_iter()
        .map(|item| HistoryEntry {
            id: Some(item.id).filter(|id| id.starts_with("sha256:")),
            tags: item
                .tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect(),
        })
        .collect())
}

/// The container `name` (a name or an ID), or `None` when the engine has none such.
pub(crate) async fn container_facts(
    engine: &Engine,
    name: &str,
) -> Result<Option<ContainerFacts>, RuntimeError> {
    let action = format!("inspecting container {name}");
    let request = engine.docker.inspect_container(name, None);
    let inspect = match engine.answer(&action, CALL_DEADLINE, request).await? {
        Ok(inspect) => inspect,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(api_error(action, e)),
    };
    let config = inspect.config.unwrap_or_default();
    let state = inspect.state.unwrap_or_default();
    Ok(Some(ContainerFacts {
        id: inspect.id.unwrap_or_default(),
        name: inspect
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image_id: inspect.image.unwrap_or_default(),
        image_ref: config.image.unwrap_or_default(),
        status: state
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
        running: state.running == Some(true),
        // A container that never ran reports the zero time.
        started_at: state
            .started_at
            .filter(|s| !s.is_empty() && !s.starts_with("0001-")),
        env: config.env.unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
    }))
}

/// The running containers, optionally only those with all of `labels` (`key` or
/// `key=value`), each fully inspected.
pub(crate) async fn running_containers(
    engine: &Engine,
    labels: &[String],
) -> Result<Vec<ContainerFacts>, RuntimeError> {
    let mut filters = HashMap::from([("status".to_owned(), vec!["running".to_owned()])]);
    if !labels.is_empty() {
        filters.insert("label".to_owned(), labels.to_vec());
    }
    let options = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let listed = engine
        .call(
            "listing the running containers",
            engine.docker.list_containers(Some(options)),
        )
        .await?;
    let mut out = Vec::new();
    for summary in listed {
        let Some(id) = summary.id else { continue };
        // Gone between the list and the inspect: not running any more.
        if let Some(facts) = container_facts(engine, &id).await? {
            out.push(facts);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
