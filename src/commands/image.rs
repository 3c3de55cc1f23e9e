//! Image metadata: `devloop build` stamps an image with its build info and lifecycle
//! methods (`build`), `devloop inspect` reads them back for an image, a container and
//! each ancestor (`inspect`).

pub(crate) mod build;
pub(crate) mod inspect;

pub(crate) use build::{BuildArgs, BuildJob};
pub(crate) use inspect::{InspectJob, Kind as InspectKind};
