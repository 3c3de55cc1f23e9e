//! What `build` and `inspect` tell: the builder's log as it comes, the image built (or why
//! not), and an image's ancestry, with the container that runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::metadata::Method;
use crate::runtime::BuildProgress;

#[derive(Debug, Clone)]
pub(crate) enum ImageEvent {
    /// A line of the builder's log.
    BuildLog(BuildProgress),
    Built(Built),
    /// The builder stopped: a step failed.
    BuildFailed {
        image: String,
        error: String,
        duration: Duration,
    },
    Inspected(Inspection),
}

/// An image built and named.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub image: String,
    pub image_id: String,
    pub tags: Vec<String>,
    /// The labels as stamped, sorted.
    pub labels: BTreeMap<String, String>,
    /// What an operator should know of the image (a method the Dockerfile overrides).
    pub warnings: Vec<String>,
    pub duration: Duration,
}

/// What `inspect` found: the container asked about, if it was one, and its image with
/// each ancestor, nearest first.
#[derive(Debug, Clone)]
pub(crate) struct Inspection {
    pub container: Option<ContainerView>,
    pub chain: Vec<ImageView>,
}

/// A container, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ContainerView {
    pub host: String,
    pub name: String,
    pub id: String,
    pub status: String,
    pub running: bool,
    pub started_at: Option<String>,
    /// The reference it was created from, as given.
    pub image: String,
    /// The exact image it runs.
    pub image_id: String,
    pub image_digests: Vec<String>,
    /// When `image` now names another image than the one running: that image's ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_now: Option<String>,
    pub methods: Vec<Method>,
}

/// One piece of build info, and whether the image only inherited it from its base.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BuildLine {
    pub field: &'static str,
    pub value: String,
    pub key: String,
    pub inherited: bool,
}

/// An image of the chain, as shown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageView {
    /// 0 for the image asked about (or the container's), 1 for its base, ...
    pub depth: usize,
    /// The name it was reached by.
    pub reference: String,
    /// How it was found: "named", "the container's image", "image history", a label.
    pub found_by: String,
    /// Whether this engine has it (a declared base may not be there).
    pub present: bool,
    pub id: Option<String>,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub created: Option<String>,
    pub build: Vec<BuildLine>,
    pub methods: Vec<Method>,
    /// Every label, whatever its convention (`-v` shows them).
    pub labels: BTreeMap<String, String>,
}

impl ImageView {
    /// An image known by name only: declared as a base, not on this engine.
    pub(crate) fn absent(depth: usize, reference: &str, found_by: &str) -> ImageView {
        ImageView {
            depth,
            reference: reference.to_owned(),
            found_by: found_by.to_owned(),
            present: false,
            id: None,
            tags: Vec::new(),
            digests: Vec::new(),
            created: None,
            build: Vec::new(),
            methods: Vec::new(),
            labels: BTreeMap::new(),
        }
    }
}
