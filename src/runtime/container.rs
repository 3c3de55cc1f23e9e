//! The ephemeral service container: created with the work tree mounted, ports published on
//! 127.0.0.1, labelled as devloop's, and removed on every path out of a run.
//!
//! `ContainerGuard::remove` is the normal way out. Every container is also in the run's
//! `Registry` from before the engine is asked to create it until the engine has confirmed
//! its removal; the top level empties the registry after the run however it ended (a
//! verdict, an error, a panic, signals). `Drop` only starts a removal the registry then
//! waits for.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{CALL_DEADLINE, Engine, RuntimeError, api_error};
use crate::config::{ContainerPort, Ready};

/// Everything needed to create the service container.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub env: Vec<String>,
    pub mount_source: PathBuf,
    pub mount_target: String,
    pub read_only: bool,
    pub workdir: Option<String>,
    pub ports: Vec<ContainerPort>,
    pub labels: HashMap<String, String>,
}

/// The containers of a run whose removal the engine has not confirmed yet, by name: a
/// container is registered before the engine is asked to create it, so one created by a
/// request whose answer never came is still found.
#[derive(Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<Vec<Arc<Tracked>>>>);

/// One container of the run.
struct Tracked {
    engine: Engine,
    name: String,
    /// Held while a removal is under way, so that removals of one container never overlap
    /// and a later one waits for (and learns from) an earlier one.
    removal: tokio::sync::Mutex<Removal>,
}

enum Removal {
    NotTried,
    Done,
    Failed(RuntimeError),
}

/// A container devloop could not remove: the next run on that engine (its sweep), or
/// `devloop clean`, removes it.
#[derive(Debug)]
pub(crate) struct Leftover {
    pub name: String,
    pub host: String,
    pub reason: RuntimeError,
}

impl Registry {
    fn track(&self, engine: &Engine, name: &str) -> Arc<Tracked> {
        let tracked = Arc::new(Tracked {
            engine: engine.clone(),
            name: name.to_owned(),
            removal: tokio::sync::Mutex::new(Removal::NotTried),
        });
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&tracked));
        tracked
    }

    fn forget(&self, tracked: &Arc<Tracked>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| !Arc::ptr_eq(t, tracked));
    }

    /// Removes one container and returns once the engine has confirmed it gone. The
    /// removal is a task of its own: whatever happens to the caller (a second signal, the
    /// grace period cutting the run short), it goes on, and only its success takes the
    /// container off the registry.
    async fn remove(&self, tracked: &Arc<Tracked>) -> Result<(), RuntimeError> {
        let registry = self.clone();
        let tracked = Arc::clone(tracked);
        let name = tracked.name.clone();
        let removal = tokio::spawn(async move {
            let mut state = tracked.removal.lock().await;
            match &*state {
                Removal::Done => return Ok(()),
                // Once an engine has stopped answering, one attempt is all it gets: the
                // next run's sweep removes what is left, once the engine is back.
                Removal::Failed(e) if e.engine_fault().is_some() => return Err(e.clone()),
                Removal::Failed(_) | Removal::NotTried => {}
            }
            let result = remove_confirmed(&tracked.engine, &tracked.name).await;
            match &result {
                Ok(()) => {
                    *state = Removal::Done;
                    registry.forget(&tracked);
                }
                Err(e) => *state = Removal::Failed(e.clone()),
            }
            result
        });
        removal.await.unwrap_or_else(|e| {
            Err(RuntimeError::Api {
                action: format!("removing container {name}"),
                reason: e.to_string(),
            })
        })
    }

    /// Removes every container still registered, waiting for removals already under way;
    /// used when the run is over, however it ended. Returns what could not be removed.
    pub(crate) async fn remove_all(&self) -> Vec<Leftover> {
        let live: Vec<Arc<Tracked>> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let removals = live.iter().map(|tracked| async move {
            self.remove(tracked).await.err().map(|reason| Leftover {
                name: tracked.name.clone(),
                host: tracked.engine.host().to_owned(),
                reason,
            })
        });
        futures_util::future::join_all(removals)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Kills and removes a container with its anonymous volumes, and returns once the engine
/// says it is gone; one already gone counts as removed.
pub(super) async fn remove_confirmed(engine: &Engine, name: &str) -> Result<(), RuntimeError> {
    let action = format!("removing container {name}");
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let request = engine.docker.remove_container(name, Some(options));
    match engine.teardown(&action, request).await? {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // Someone else's removal is under way (a sweep, AutoRemove): gone once it is done.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => wait_until_gone(engine, name, &action).await,
        Err(e) => Err(api_error(action, e)),
    }
}

async fn wait_until_gone(engine: &Engine, name: &str, action: &str) -> Result<(), RuntimeError> {
    let deadline = crate::deadline::from_now(CALL_DEADLINE);
    loop {
        let request = engine.docker.inspect_container(name, None);
        if let Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) = engine.teardown(action, request).await?
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RuntimeError::Api {
                action: action.to_owned(),
                reason: format!(
                    "the engine's own removal had not finished after {CALL_DEADLINE:?}"
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The container's log lines as they arrive (see [`ContainerGuard::follow_logs`]).
#[derive(Clone, Default)]
pub(crate) struct LogBuffer {
    lines: Arc<Mutex<Vec<String>>>,
    arrived: Arc<tokio::sync::Notify>,
    /// Why the log stopped arriving, when the engine broke it off.
    broken: Arc<Mutex<Option<String>>>,
}

impl LogBuffer {
    fn push(&self, new: Vec<String>) {
        if new.is_empty() {
            return;
        }
        if let Ok(mut lines) = self.lines.lock() {
            lines.extend(new);
        }
        self.arrived.notify_waiters();
    }

    fn break_off(&self, reason: String) {
        if let Ok(mut broken) = self.broken.lock() {
            *broken = Some(reason);
        }
        self.arrived.notify_waiters();
    }

    /// How many lines have arrived: a mark for [`LogBuffer::since`].
    pub(crate) fn len(&self) -> usize {
        self.lines.lock().map_or(0, |l| l.len())
    }

    pub(crate) fn since(&self, mark: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.get(mark..).map(<[String]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Why the log is incomplete, if the engine stopped sending it.
    pub(crate) fn broken(&self) -> Option<String> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }

    /// Waits until a line after `mark` matches, or `timeout` passes.
    pub(crate) async fn wait_for(
        &self,
        pattern: &regex::Regex,
        mark: usize,
        timeout: Duration,
    ) -> bool {
        let deadline = crate::deadline::after_tokio(tokio::time::Instant::now(), timeout);
        loop {
            // Register before looking, so a line that arrives in between still wakes us.
            let arrived = self.arrived.notified();
            if self.since(mark).iter().any(|line| pattern.is_match(line)) {
                return true;
            }
            if self.broken().is_some() {
                return false;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return false;
            }
        }
    }
}

/// The output of a command run in the container.
#[derive(Debug, Clone)]
pub(crate) struct ExecOutput {
    pub status: i64,
    pub output: String,
    pub timed_out: bool,
}

/// A running service container. Remove it with [`ContainerGuard::remove`].
pub(crate) struct ContainerGuard {
    pub(super) engine: Engine,
    registry: Registry,
    tracked: Arc<Tracked>,
    pub id: String,
    pub name: String,
    /// Container port -> host port on 127.0.0.1.
    pub ports: Vec<(ContainerPort, u16)>,
    started: Instant,
    removed: bool,
    keep: bool,
}

impl ContainerGuard {
    /// Creates and starts the container, and reads back the host ports Docker chose.
    pub(crate) async fn start(
        engine: &Engine,
        registry: &Registry,
        spec: &ServiceSpec,
    ) -> Result<ContainerGuard, RuntimeError> {
        let mut bindings = HashMap::new();
        let mut exposed = Vec::new();
        for port in &spec.ports {
            // Loopback only, and port 0: Docker picks a free port, so parallel runs never
            // collide and nothing is reachable from the network.
            bindings.insert(
                port.to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some("0".to_owned()),
                }]),
            );
            exposed.push(port.to_string());
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.command.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            working_dir: spec.workdir.clone(),
            exposed_ports: Some(exposed),
            host_config: Some(HostConfig {
                // A structured mount, not "src:dst:ro" text: a path may hold a colon.
                mounts: Some(vec![Mount {
                    typ: Some(MountType::BIND),
                    source: Some(spec.mount_source.display().to_string()),
                    target: Some(spec.mount_target.clone()),
                    read_only: Some(spec.read_only),
                    ..Default::default()
                }]),
                port_bindings: Some(bindings),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let tracked = registry.track(engine, &spec.name);
        let created = engine
            .call(
                format!("creating a container of {}", spec.image),
                engine.docker.create_container(Some(options), body),
            )
            .await;
        let created = match created {
            Ok(created) => created,
            Err(e) => {
                // An engine that answered "no" created nothing (and a name conflict is
                // someone else's container); one that did not answer may have created it,
                // so the teardown makes sure.
                if e.engine_fault().is_none() {
                    registry.forget(&tracked);
                }
                return Err(e);
            }
        };
        let mut guard = ContainerGuard {
            engine: engine.clone(),
            registry: registry.clone(),
            tracked,
            id: created.id,
            name: spec.name.clone(),
            ports: Vec::new(),
            started: Instant::now(),
            removed: false,
            keep: false,
        };
        if let Err(e) = guard.start_and_read_ports(&spec.ports).await {
            // The container's own failure is the one to report; the registry reports a
            // removal that fails.
            let _ = guard.remove().await;
            return Err(e);
        }
        Ok(guard)
    }

    async fn start_and_read_ports(&mut self, wanted: &[ContainerPort]) -> Result<(), RuntimeError> {
        self.engine
            .call(
                format!("starting container {}", self.name),
                self.engine.docker.start_container(&self.id, None),
            )
            .await?;
        self.started = Instant::now();
        self.ports = self.read_ports(wanted).await?;
        Ok(())
    }

    async fn read_ports(
        &self,
        wanted: &[ContainerPort],
    ) -> Result<Vec<(ContainerPort, u16)>, RuntimeError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let inspect = self
            .engine
            .call(
                "reading the published ports",
                self.engine.docker.inspect_container(&self.id, None),
            )
            .await?;
        let map = inspect
            .network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default();
        let mut out = Vec::new();
        for port in wanted {
            let host_port = map
                .get(&port.to_string())
                .and_then(|b| b.as_ref())
                .and_then(|bindings| {
                    bindings
                        .iter()
                        .filter(|b| b.host_ip.as_deref() == Some("127.0.0.1"))
                        .find_map(|b| b.host_port.as_deref()?.parse::<u16>().ok())
                });
            match host_port {
                Some(p) => out.push((*port, p)),
                None => {
                    let status = self.state().await?.unwrap_or(-1);
                    return Err(RuntimeError::Died {
                        status,
                        log_tail: self.log_tail(20).await,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The address on 127.0.0.1 where a container port is published.
    pub(crate) fn address(&self, port: ContainerPort) -> Option<SocketAddr> {
        self.ports
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, host)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, *host)))
    }

    /// The TCP twin of a UDP port (and the other way round), when both are published.
    pub(crate) fn twin_address(&self, port: ContainerPort) -> Option<SocketAddr> {
        self.address(ContainerPort {
            port: port.port,
            udp: !port.udp,
        })
    }

    /// The exit status, or `None` while the container runs (or when the engine cannot
    /// say).
    pub(crate) async fn exit_status(&self) -> Option<i64> {
        self.state().await.ok().flatten()
    }

    /// The exit status, or `None` while the container runs.
    async fn state(&self) -> Result<Option<i64>, RuntimeError> {
        let inspect = self
            .engine
            .call(
                format!("inspecting container {}", self.name),
                self.engine.docker.inspect_container(&self.id, None),
            )
            .await?;
        Ok(match inspect.state {
            Some(state) if state.running == Some(true) => None,
            Some(state) => Some(state.exit_code.unwrap_or(-1)),
            None => None,
        })
    }

    /// The last `lines` lines of the container's stdout and stderr, for a failure report;
    /// a log that cannot be read says why in its one line (nothing when the engine failed:
    /// the run's error says that).
    pub(crate) async fn log_tail(&self, lines: usize) -> Vec<String> {
        match self.read_log(Some(lines)).await {
            Ok(lines) => lines,
            Err(e) if e.engine_fault().is_some() => Vec::new(),
            Err(e) => vec![format!("(the container's log could not be read: {e})")],
        }
    }

    /// The container's log since it started (the last `tail` lines only, if given).
    pub(crate) async fn read_log(&self, tail: Option<usize>) -> Result<Vec<String>, RuntimeError> {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&tail)
            .build();
        let mut stream = self.engine.docker.logs(&self.id, Some(options));
        let collect = async {
            let mut text = String::new();
            while let Some(chunk) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            }
            Ok(text)
        };
        let action = format!("reading the log of {}", self.name);
        let text = self
            .engine
            .answer(&action, CALL_DEADLINE, collect)
            .await?
            .map_err(|e| api_error(action, e))?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Runs a command in the container and collects its output and exit status. The
    /// `timeout` holds whatever the engine does; past it, a ping tells a command that is
    /// slow (`timed_out`) from an engine that stopped answering (an error).
    pub(crate) async fn exec(
        &self,
        argv: &[String],
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<ExecOutput, RuntimeError> {
        let action = format!("exec `{}` in {}", argv.join(" "), self.name);
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut output = String::new();
        let run = async {
            let exec = self
                .engine
                .call(
                    action.clone(),
                    self.engine.docker.create_exec(
                        &self.id,
                        CreateExecOptions {
                            cmd: Some(argv.to_vec()),
                            env: Some(env),
                            attach_stdout: Some(true),
                            attach_stderr: Some(true),
                            ..Default::default()
                        },
                    ),
                )
                .await?;
            let started = self
                .engine
                .call(
                    action.clone(),
                    self.engine.docker.start_exec(&exec.id, None),
                )
                .await?;
            if let StartExecResults::Attached {
                output: mut stream, ..
            } = started
            {
                while let Some(chunk) = self.engine.next(&action, &mut stream).await? {
                    let chunk = chunk
                        .map_err(|e| api_error(format!("reading the output of {action}"), e))?;
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
            super::method::exit_status(&self.engine, &exec.id, &action).await
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(status) => Ok(ExecOutput {
                status: status?,
                output,
                timed_out: false,
            }),
            Err(_) => {
                self.engine.still_answering(&action).await?;
                Ok(ExecOutput {
                    status: -1,
                    output,
                    timed_out: true,
                })
            }
        }
    }

    /// Sends a signal to the container's main process (e.g. HUP to reload).
    pub(crate) async fn signal(&self, signal: &str) -> Result<(), RuntimeError> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.engine
            .call(
                format!("sending {signal} to {}", self.name),
                self.engine.docker.kill_container(&self.id, Some(options)),
            )
            .await
    }

    /// Follows the container's log from its start, line by line, into a buffer that
    /// waits can watch: faster than asking for the log again and again.
    pub(crate) fn follow_logs(&self) -> LogBuffer {
        let buffer = LogBuffer::default();
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail("all")
            .build();
        let mut stream = self.engine.docker.logs(&self.id, Some(options));
        let sink = buffer.clone();
        tokio::spawn(async move {
            let mut partial = String::new();
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        sink.break_off(e.to_string());
                        return;
                    }
                };
                partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                let mut complete = Vec::new();
                while let Some(end) = partial.find('\n') {
                    complete.push(partial[..end].trim_end_matches('\r').to_owned());
                    partial.drain(..=end);
                }
                sink.push(complete);
            }
        });
        buffer
    }

    /// Polls the readiness probe until it succeeds, the container dies, the engine stops
    /// answering, or time runs out.
    pub(crate) async fn wait_ready(
        &self,
        ready: &Ready,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let deadline = crate::deadline::after(self.started, timeout);
        let mut interval = Duration::from_millis(5);
        let mut last_state_check = Instant::now();
        loop {
            if self.probe(ready).await? {
                return Ok(());
            }
            let now = Instant::now();
            // A dead daemon never becomes ready: look every 100 ms rather than wait out
            // the whole timeout.
            if now.duration_since(last_state_check) >= Duration::from_millis(100) {
                last_state_check = now;
                if let Some(status) = self.state().await? {
                    return Err(RuntimeError::Died {
                        status,
                        log_tail: self.log_tail(20).await,
                    });
                }
            }
            if now >= deadline {
                if let Some(status) = self.state().await? {
                    return Err(RuntimeError::Died {
                        status,
                        log_tail: self.log_tail(20).await,
                    });
                }
                return Err(RuntimeError::NotReady {
                    after: timeout,
                    probe: describe_probe(ready),
                    log_tail: self.log_tail(20).await,
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(Duration::from_millis(50));
        }
    }

    /// Whether the service answers the probe; an error only when the engine failed.
    async fn probe(&self, ready: &Ready) -> Result<bool, RuntimeError> {
        let engine_failed = |e: RuntimeError| {
            if e.engine_fault().is_some() {
                Err(e)
            } else {
                Ok(false)
            }
        };
        match ready {
            Ready::Dns { port, name } => Ok(match self.address(*port) {
                Some(addr) => {
                    crate::dns::probe(addr, !port.udp, name, Duration::from_millis(100)).await
                }
                None => false,
            }),
            Ready::Tcp { port } => Ok(match self.address(*port) {
                Some(addr) => tcp_answers(addr).await,
                None => false,
            }),
            Ready::Log { pattern } => match self.read_log(None).await {
                Ok(lines) => Ok(lines.iter().any(|line| pattern.0.is_match(line))),
                Err(e) => engine_failed(e),
            },
            Ready::Exec { command } => {
                match self.exec(command, &[], Duration::from_secs(5)).await {
                    Ok(out) => Ok(out.status == 0 && !out.timed_out),
                    Err(e) => engine_failed(e),
                }
            }
        }
    }

    /// Leaves the container running when the guard goes (`--keep`).
    pub(crate) fn keep(mut self) -> String {
        self.keep = true;
        self.registry.forget(&self.tracked);
        self.name.clone()
    }

    /// Stops and removes the container; returns once the engine confirmed it.
    pub(crate) async fn remove(mut self) -> Result<(), RuntimeError> {
        self.removed = true;
        self.registry.remove(&self.tracked).await
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.removed || self.keep {
            return;
        }
        // The async path was skipped (an early return, a panic unwinding through the
        // run): start the removal now. The registry still holds the container, so the
        // end of the run waits for this removal (or makes it) either way.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let registry = self.registry.clone();
            let tracked = Arc::clone(&self.tracked);
            runtime.spawn(async move {
                let _ = registry.remove(&tracked).await;
            });
        }
    }
}

fn describe_probe(ready: &Ready) -> String {
    match ready {
        Ready::Dns { port, name } => format!("no DNS answer for {name} on {port}"),
        Ready::Tcp { port } => format!("no TCP service on {port}"),
        Ready::Log { pattern } => format!("no log line matching /{pattern}/"),
        Ready::Exec { command } => format!("`{}` did not succeed", command.join(" ")),
    }
}

/// Docker's userland proxy accepts a TCP connection even while nothing listens in the
/// container, then closes it. A service that listens keeps the connection open (or
/// greets), so a connection that is not closed at once counts as an answer.
async fn tcp_answers(addr: SocketAddr) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    else {
        return false;
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(30), stream.read(&mut byte)).await {
        Err(_) => true,
        Ok(Ok(n)) => n > 0,
        Ok(Err(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_wait_longer_than_the_clock_can_count_still_sees_its_line() {
        let buffer = LogBuffer::default();
        buffer.push(vec!["zones reloaded".to_owned()]);
        let pattern = regex::Regex::new("reloaded").expect("pattern");
        assert!(buffer.wait_for(&pattern, 0, Duration::MAX).await);
    }

    #[tokio::test]
    async fn a_log_the_engine_broke_off_is_not_waited_for() {
        let buffer = LogBuffer::default();
        buffer.break_off("the engine went away".to_owned());
        let pattern = regex::Regex::new("reloaded").expect("pattern");
        let started = Instant::now();
        assert!(!buffer.wait_for(&pattern, 0, Duration::from_secs(30)).await);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(buffer.broken().as_deref(), Some("the engine went away"));
    }
}
