//! The only module that talks to Docker: the engine connection, images, the ephemeral
//! service container and its cleanup, exec, and the sweep of leftovers.

mod build;
mod container;
mod endpoint;
mod facts;
mod image;
mod method;
mod sweep;

use std::time::Duration;

use bollard::Docker;

pub(crate) use container::{ContainerGuard, ExecOutput, LogBuffer, Registry, ServiceSpec};
pub(crate) use image::{ImageInfo, ensure_image};
pub(crate) use sweep::{Owner, clean, sweep_leftovers};
// Image metadata and lifecycle methods (build, inspect, validate, update, fleets).
pub(crate) use build::{BuildFailure, BuildProgress, BuildRequest, build_image, copy_image};
pub(crate) use endpoint::{connect_endpoint, default_host};
pub(crate) use facts::{
    ContainerFacts, ImageFacts, container_facts, image_facts, image_history, running_containers,
};
pub(crate) use method::{Stream, exec_streaming, method_argv};

/// How long to wait for an engine to answer at all before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to one Docker engine.
#[derive(Clone)]
pub(crate) struct Engine {
    pub docker: Docker,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RuntimeError {
    #[error("cannot reach the Docker engine at {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("image {image} is not available: {reason}")]
    ImageMissing { image: String, reason: String },
    #[error("{action} failed: {reason}")]
    Api { action: String, reason: String },
    #[error("the service container exited with status {status} before it was ready")]
    Died { status: i64, log_tail: Vec<String> },
    #[error("no container {name} on {host}")]
    NoSuchContainer { name: String, host: String },
    #[error("the service was not ready after {after:?} ({probe})")]
    NotReady {
        after: Duration,
        probe: String,
        log_tail: Vec<String>,
    },
}

impl RuntimeError {
    pub(crate) fn help(&self) -> Option<String> {
        match self {
            RuntimeError::Unreachable { .. } => Some(
                "start dockerd (scripts/demo and scripts/test start one), or point DOCKER_HOST at a running engine".into(),
            ),
            RuntimeError::NoSuchContainer { .. } => Some(
                "list the running containers with docker ps (or docker -H HOST ps), or name another engine with --host".into(),
            ),
            RuntimeError::ImageMissing { .. } => Some(
                "build the image first (scripts/images builds the examples), or set pull = \"missing\"".into(),
            ),
            _ => None,
        }
    }

    /// The container's last log lines, when the error is about the container itself.
    pub(crate) fn log_tail(&self) -> &[String] {
        match self {
            RuntimeError::Died { log_tail, .. } | RuntimeError::NotReady { log_tail, .. } => {
                log_tail
            }
            _ => &[],
        }
    }
}

pub(crate) fn api_error(action: impl Into<String>, e: bollard::errors::Error) -> RuntimeError {
    let reason = match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        other => other.to_string(),
    };
    RuntimeError::Api {
        action: action.into(),
        reason,
    }
}

impl Engine {
    /// Connects to `DOCKER_HOST` (or the default socket) and makes sure the engine answers.
    pub(crate) async fn connect() -> Result<Engine, RuntimeError> {
        Self::connect_to(&default_host()).await
    }

    pub(crate) async fn connect_to(host: &str) -> Result<Engine, RuntimeError> {
        let docker = Docker::connect_with_host(host).map_err(|e| RuntimeError::Unreachable {
            host: host.to_owned(),
            reason: e.to_string(),
        })?;
        Self::answering(docker, host).await
    }

    /// The engine behind `docker`, once it has answered a ping within the timeout.
    ///
    /// A ping, not a version negotiation: bollard 0.21 sends its requests without the
    /// /vX.Y prefix (it joins absolute paths), so the engine answers in its own API
    /// version whatever we agree on, Engine 20.10 (API 1.41) included. /_ping costs
    /// under a millisecond; /version costs ten.
    pub(crate) async fn answering(docker: Docker, shown_as: &str) -> Result<Engine, RuntimeError> {
        let unreachable = |reason: String| RuntimeError::Unreachable {
            host: shown_as.to_owned(),
            reason,
        };
        tokio::time::timeout(CONNECT_TIMEOUT, docker.ping())
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(describe_connect_error(&e)))?;
        Ok(Engine { docker })
    }
}

fn describe_connect_error(e: &bollard::errors::Error) -> String {
    // hyper's error chain hides the useful part (ENOENT, ECONNREFUSED) at the bottom.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}
