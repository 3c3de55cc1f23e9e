//! One Docker engine: the connection, the deadline every call gets, and what a run learns
//! when the engine stops answering or goes away (its fault, after which every call fails
//! at once).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;

use super::default_host;

/// How long to wait for an engine to answer at all before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an ordinary engine call (inspect, create, start, kill, remove, list, an exec's
/// set-up, a log read) may take. The engine does these in milliseconds; a loaded one in a
/// second or two. Past this the engine counts as not answering.
pub(crate) const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// How long a ping may take when devloop asks whether an engine that went quiet (a stream
/// with nothing new, a command past its timeout) is still there.
pub(crate) const PING_DEADLINE: Duration = Duration::from_secs(2);
/// How long a stream (a pull, a build, a method's output) may stay silent before devloop
/// pings the engine to tell a slow job from a frozen engine.
const SILENCE: Duration = Duration::from_secs(5);

/// A connection to one Docker engine.
///
/// Every call through it has a deadline. The first call the engine fails to answer (or
/// answers by hanging up) is remembered as the engine's fault: later calls of the run fail
/// at once with it instead of each waiting out a deadline of its own, so a frozen engine
/// costs a run seconds, not minutes. Only removals try again (see [`Engine::teardown`]).
#[derive(Clone)]
pub(crate) struct Engine {
    pub(super) docker: Docker,
    host: Arc<str>,
    fault: Arc<Mutex<Option<EngineFault>>>,
}

/// How an engine failed a run: it stopped answering, or it went away.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum EngineFault {
    #[error("the Docker engine at {host} did not answer within {after:?} ({action})")]
    NoAnswer {
        host: String,
        action: String,
        after: Duration,
    },
    #[error("the Docker engine at {host} went away ({action}): {reason}")]
    Gone {
        host: String,
        action: String,
        reason: String,
    },
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum RuntimeError {
    #[error("cannot reach the Docker engine at {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("image {image} is not available: {reason}")]
    ImageMissing { image: String, reason: String },
    #[error("{action} failed: {reason}")]
    Api { action: String, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineFault),
    #[error("{action}: not tried, since {fault}")]
    Skipped { action: String, fault: EngineFault },
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
            RuntimeError::Engine(_) | RuntimeError::Skipped { .. } => Some(
                "see whether the engine answers (docker info); a container devloop could not remove is removed by the next devloop run on that engine, or by devloop clean".into(),
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

    /// The engine's fault behind this error, if the engine failed rather than the request.
    pub(crate) fn engine_fault(&self) -> Option<&EngineFault> {
        match self {
            RuntimeError::Engine(fault) | RuntimeError::Skipped { fault, .. } => Some(fault),
            _ => None,
        }
    }
}

/// A request the engine answered with an error: its message, once (the engine's own text,
/// not bollard's "Docker responded with status code ..." around it).
pub(crate) fn api_error(action: impl Into<String>, e: bollard::errors::Error) -> RuntimeError {
    RuntimeError::Api {
        action: action.into(),
        reason: answer_text(e),
    }
}

pub(crate) fn answer_text(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        bollard::errors::Error::DockerStreamError { error } => error,
        other => other.to_string(),
    }
}

/// Whether a failed request failed on the way (the connection), not in the engine's answer.
fn is_transport(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error;
    matches!(
        e,
        Error::IOError { .. }
            | Error::HyperLegacyError { .. }
            | Error::HyperResponseError { .. }
            | Error::HttpClientError { .. }
            | Error::SocketNotFoundError(_)
    )
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
        Ok(Engine {
            docker,
            host: shown_as.into(),
            fault: Arc::default(),
        })
    }

    /// The engine's address as the operator gave it (`unix:///var/run/docker.sock`).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// How this engine failed the run, if it did.
    pub(crate) fn fault(&self) -> Option<EngineFault> {
        self.fault.lock().ok().and_then(|f| f.clone())
    }

    /// Remembers the first fault; later ones follow from it.
    fn record(&self, fault: EngineFault) -> EngineFault {
        if let Ok(mut first) = self.fault.lock() {
            first.get_or_insert_with(|| fault.clone());
        }
        fault
    }

    fn no_answer(&self, action: &str, after: Duration) -> RuntimeError {
        self.record(EngineFault::NoAnswer {
            host: self.host.to_string(),
            action: action.to_owned(),
            after,
        })
        .into()
    }

    fn gone(&self, action: &str, e: &bollard::errors::Error) -> RuntimeError {
        self.record(EngineFault::Gone {
            host: self.host.to_string(),
            action: action.to_owned(),
            reason: describe_connect_error(e),
        })
        .into()
    }

    /// Sends `request` and waits at most `limit` for the engine's answer. The outer error:
    /// the engine did not answer, hung up, or failed earlier in the run; the inner result:
    /// what the engine answered (an error status included, for callers that expect some).
    pub(crate) async fn answer<T>(
        &self,
        action: &str,
        limit: Duration,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<Result<T, bollard::errors::Error>, RuntimeError> {
        if let Some(fault) = self.fault() {
            return Err(RuntimeError::Skipped {
                action: action.to_owned(),
                fault,
            });
        }
        self.answer_now(action, limit, request).await
    }

    /// [`Engine::answer`] without looking at an earlier fault.
    async fn answer_now<T>(
        &self,
        action: &str,
        limit: Duration,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<Result<T, bollard::errors::Error>, RuntimeError> {
        match tokio::time::timeout(limit, request).await {
            // bollard's own timeout (two minutes) is longer than any deadline here, but
            // it means the same.
            Err(_) | Ok(Err(bollard::errors::Error::RequestTimeoutError)) => {
                Err(self.no_answer(action, limit))
            }
            Ok(Err(e)) if is_transport(&e) => Err(self.gone(action, &e)),
            Ok(answered) => Ok(answered),
        }
    }

    /// An ordinary call: the engine's answer within [`CALL_DEADLINE`], an error answer as
    /// [`RuntimeError::Api`].
    pub(crate) async fn call<T>(
        &self,
        action: impl Into<String>,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, RuntimeError> {
        let action = action.into();
        self.answer(&action, CALL_DEADLINE, request)
            .await?
            .map_err(|e| api_error(action, e))
    }

    /// A call that removes what a run made. It is tried even after the engine failed the
    /// run, once the engine answers a ping again: a frozen engine gets one short chance,
    /// an engine that came back gets the removal.
    pub(crate) async fn teardown<T>(
        &self,
        action: &str,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<Result<T, bollard::errors::Error>, RuntimeError> {
        if self.fault().is_some() {
            match tokio::time::timeout(PING_DEADLINE, self.docker.ping()).await {
                Err(_) => return Err(self.no_answer(action, PING_DEADLINE)),
                Ok(Err(e)) if is_transport(&e) => return Err(self.gone(action, &e)),
                Ok(_) => {}
            }
        }
        self.answer_now(action, CALL_DEADLINE, request).await
    }

    /// Whether the engine still answers, asked after something took too long `during`
    /// an action. A ping that gets no answer makes the action the engine's fault.
    pub(crate) async fn still_answering(&self, during: &str) -> Result<(), RuntimeError> {
        if let Some(fault) = self.fault() {
            return Err(RuntimeError::Skipped {
                action: during.to_owned(),
                fault,
            });
        }
        match tokio::time::timeout(PING_DEADLINE, self.docker.ping()).await {
            Err(_) => Err(self.no_answer(during, PING_DEADLINE)),
            Ok(Err(e)) if is_transport(&e) => Err(self.gone(during, &e)),
            Ok(_) => Ok(()),
        }
    }

    /// The next item of a stream the engine sends (a pull's progress, a build's log, a
    /// command's output), however long the job takes, as long as the engine is there: a
    /// silence of [`SILENCE`] makes devloop ping it, and an engine that does not answer
    /// the ping ends the wait. `None` at the end of the stream.
    pub(crate) async fn next<T, S>(
        &self,
        action: &str,
        stream: &mut S,
    ) -> Result<Option<Result<T, bollard::errors::Error>>, RuntimeError>
    where
        S: futures_util::Stream<Item = Result<T, bollard::errors::Error>> + Unpin,
    {
        use futures_util::StreamExt;
        loop {
            match tokio::time::timeout(SILENCE, stream.next()).await {
                Err(_) => self.still_answering(action).await?,
                Ok(Some(Err(e))) if is_transport(&e) => return Err(self.gone(action, &e)),
                Ok(item) => return Ok(item),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_is_said_once_in_the_engines_words() {
        let answer = bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: "Get \"https://127.0.0.1:1/v2/\": connection refused".into(),
        };
        assert_eq!(
            api_error("pulling x", answer).to_string(),
            "pulling x failed: Get \"https://127.0.0.1:1/v2/\": connection refused"
        );
    }

    /// An engine whose socket nobody listens on any more (a dockerd that died).
    fn dead_engine(dir: &std::path::Path) -> Engine {
        let socket = dir.join("docker.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
        let host = format!("unix://{}", socket.display());
        let docker =
            Docker::connect_with_unix(&host, 5, bollard::API_DEFAULT_VERSION).expect("a client");
        Engine {
            docker,
            host: host.into(),
            fault: Arc::default(),
        }
    }

    #[tokio::test]
    async fn an_engine_that_went_away_is_named_by_its_socket_and_fails_later_calls_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = dead_engine(dir.path());
        let host = engine.host().to_owned();
        let error = engine
            .call("starting container c", engine.docker.ping())
            .await
            .expect_err("nobody answers");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "the Docker engine at {host} went away (starting container c): "
            )),
            "{text}"
        );
        assert!(!text.contains("hyper"), "{text}");
        let later = engine
            .call("reading the log of c", engine.docker.ping())
            .await
            .expect_err("the engine failed the run");
        assert_eq!(
            later.to_string(),
            format!("reading the log of c: not tried, since {text}")
        );
    }

    #[test]
    fn a_broken_connection_is_the_engine_going_away_not_an_answer() {
        let refused = bollard::errors::Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(is_transport(&refused));
        let answer = bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "no such container".into(),
        };
        assert!(!is_transport(&answer));
    }
}
