//! Building an image from a context tarball through the Engine API (the legacy builder,
//! which every engine has: BuildKit needs a session that Debian's Engine 20.10 lacks
//! the client side of), and copying an image from one engine to another.

use std::collections::HashMap;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, ImportImageOptionsBuilder, TagImageOptionsBuilder,
};

use super::{Engine, RuntimeError, api_error};

/// What to build: the context as a tar archive, and how.
#[derive(Debug, Clone)]
pub(crate) struct BuildRequest {
    pub context_tar: Vec<u8>,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// Every name the image gets; the first is given to the builder, the rest are tagged
    /// afterwards.
    pub tags: Vec<String>,
    pub args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub no_cache: bool,
}

/// What the builder says while it works.
#[derive(Debug, Clone)]
pub(crate) enum BuildProgress {
    /// A line of the build log ("Step 3/9 : RUN ...", a command's output).
    Log(String),
    /// A status line (pulling a base image, ...).
    Status(String),
}

/// Why a build did not produce an image.
#[derive(Debug)]
pub(crate) enum BuildFailure {
    /// The build itself failed (a `RUN` that exited non-zero, a missing base image...):
    /// the builder's message.
    Build(String),
    /// The engine could not be asked.
    Engine(RuntimeError),
}

/// Builds the image and tags it with every name; returns its ID.
pub(crate) async fn build_image(
    engine: &Engine,
    request: BuildRequest,
    on_progress: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<String, BuildFailure> {
    let first_tag = request.tags.first().cloned().unwrap_or_default();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&request.dockerfile)
        .rm(true)
        .forcerm(true)
        .nocache(request.no_cache)
        .buildargs(&request.args)
        .labels(&request.labels);
    if !first_tag.is_empty() {
        options = options.t(&first_tag);
    }
    let mut stream = engine.docker.build_image(
        options.build(),
        None,
        Some(bollard::body_full(request.context_tar.into())),
    );
    let mut image_id: Option<String> = None;
    let mut partial = String::new();
    let action = "building the image";
    loop {
        let item = match engine.next(action, &mut stream).await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => return Err(BuildFailure::Engine(e)),
        };
        let info = match item {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(BuildFailure::Build(error));
            }
            Err(e) => return Err(BuildFailure::Engine(api_error(action, e))),
        };
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            flush(&mut partial, on_progress);
            return Err(BuildFailure::Build(detail.trim().to_owned()));
        }
        if let Some(text) = info.stream {
            partial.push_str(&text);
            while let Some(end) = partial.find('\n') {
                let line: String = partial.drain(..=end).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(id) = line.strip_prefix("Successfully built ") {
                    image_id.get_or_insert_with(|| id.trim().to_owned());
                }
                on_progress(BuildProgress::Log(line.to_owned()));
            }
        }
        if let Some(status) = info.status {
            on_progress(BuildProgress::Status(status.trim().to_owned()));
        }
        if let Some(id) = info.aux.and_then(|aux| aux.id) {
            image_id = Some(id);
        }
    }
    flush(&mut partial, on_progress);
    let reference = match (&image_id, first_tag.is_empty()) {
        (Some(id), _) => id.clone(),
        (None, false) => first_tag.clone(),
        (None, true) => {
            return Err(BuildFailure::Build(
                "the builder finished without naming the image it built".into(),
            ));
        }
    };
    // The builder's short ID, or the tag: ask the engine for the full ID.
    let inspect = engine
        .call(
            format!("inspecting {reference}"),
            engine.docker.inspect_image(&reference),
        )
        .await
        .map_err(BuildFailure::Engine)?;
    let id = inspect.id.unwrap_or(reference);
    for tag in request.tags.iter().skip(1) {
        let (repo, tag_part) = super::image::split_reference(tag);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag_part)
            .build();
        engine
            .call(
                format!("tagging {tag}"),
                engine.docker.tag_image(&id, Some(options)),
            )
            .await
            .map_err(BuildFailure::Engine)?;
    }
    Ok(id)
}

fn flush(partial: &mut String, on_progress: &mut (dyn FnMut(BuildProgress) + Send)) {
    if !partial.trim().is_empty() {
        on_progress(BuildProgress::Log(partial.trim_end().to_owned()));
    }
    partial.clear();
}

/// Copies the image `id` from one engine to another (`docker save | docker load`, through
/// the API), so that both run exactly the same image: the ID is kept.
pub(crate) async fn copy_image(from: &Engine, to: &Engine, id: &str) -> Result<(), RuntimeError> {
    let export = from.docker.export_image(id);
    let mut load = to.docker.import_image_stream(
        ImportImageOptionsBuilder::default().quiet(true).build(),
        export,
        None,
    );
    let action = format!("copying image {id} between engines");
    while let Some(item) = to.next(&action, &mut load).await? {
        item.map_err(|e| api_error(action.clone(), e))?;
    }
    Ok(())
}
