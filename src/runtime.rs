//! The only module that talks to Docker, and the only one that imports its client
//! library: the engine connection and its deadlines (`engine`, `endpoint`), images, the
//! ephemeral service container and its cleanup (`container`), exec, attach, builds, what
//! an engine knows of images and containers (`facts`), and the sweep of leftovers. It may
//! use `config` (ports, probes, pull policy) and the leaves.

mod attach;
mod build;
mod container;
mod endpoint;
mod engine;
mod facts;
mod image;
mod method;
mod sweep;

pub(crate) use attach::attach;
pub(crate) use container::{ContainerGuard, ExecOutput, LogBuffer, Registry, ServiceSpec};
use engine::answer_text;
pub(crate) use engine::{CALL_DEADLINE, Engine, RuntimeError, api_error};
pub(crate) use image::{ImageInfo, ensure_image};
pub(crate) use sweep::{Owner, Swept, clean, sweep_leftovers};
// Image metadata and lifecycle methods (build, inspect, validate, update, fleets).
pub(crate) use build::{BuildFailure, BuildProgress, BuildRequest, build_image, copy_image};
pub(crate) use endpoint::{connect_endpoint, default_host};
pub(crate) use facts::{
    ContainerFacts, ImageFacts, container_facts, image_facts, image_history, running_containers,
};
pub(crate) use method::{Stream, exec_streaming, method_argv};
