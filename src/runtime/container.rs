//! The ephemeral service container: created with the work tree mounted, ports published on
//! 127.0.0.1, labelled as devloop's, and removed on every path out of a run.
//!
//! `ContainerGuard::remove` is the normal way out. Every live container is also in the
//! run's `Registry`, which the top level empties after a panic, a signal or an error; `Drop`
//! is only the last resort.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{Engine, RuntimeError, api_error};
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

/// The containers a run has created and not yet removed.
#[derive(Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<Vec<(Engine, String)>>>);

impl Registry {
    fn add(&self, engine: &Engine, id: &str) {
        if let Ok(mut live) = self.0.lock() {
            live.push((engine.clone(), id.to_owned()));
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut live) = self.0.lock() {
            live.retain(|(_, i)| i != id);
        }
    }

    /// Removes every container still registered; used after a panic, signal or error.
    pub(crate) async fn remove_all(&self) {
        let live: Vec<(Engine, String)> = match self.0.lock() {
            Ok(mut live) => live.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        };
        for (engine, id) in live {
            let _ = force_remove(&engine, &id).await;
        }
    }
}

/// Kills and removes a container with its anonymous volumes; one already gone, or going,
/// counts as removed.
pub(super) async fn force_remove(engine: &Engine, id: &str) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match engine.docker.remove_container(id, Some(options)).await {
        // 404: gone already (a sweep, AutoRemove); 409: its removal is under way.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(()),
        other => other,
    }
}

/// The container's log lines as they arrive (see [`ContainerGuard::follow_logs`]).
#[derive(Clone, Default)]
pub(crate) struct LogBuffer {
    lines: Arc<Mutex<Vec<String>>>,
    arrived: Arc<tokio::sync::Notify>,
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

    /// Waits until a line after `mark` matches, or `timeout` passes.
    pub(crate) async fn wait_for(
        &self,
        pattern: &regex::Regex,
        mark: usize,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register before looking, so a line that arrives in between still wakes us.
            let arrived = self.arrived.notified();
            if self.since(mark).iter().any(|line| pattern.is_match(line)) {
                return true;
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
    engine: Engine,
    registry: Registry,
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
        let created = engine
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| api_error(format!("creating a container of {}", spec.image), e))?;
        registry.add(engine, &created.id);
        let mut guard = ContainerGuard {
            engine: engine.clone(),
            registry: registry.clone(),
            id: created.id,
            name: spec.name.clone(),
            ports: Vec::new(),
            started: Instant::now(),
            removed: false,
            keep: false,
        };
        engine
            .docker
            .start_container(&guard.id, None)
            .await
            .map_err(|e| api_error(format!("starting container {}", spec.name), e))?;
        guard.started = Instant::now();
        guard.ports = guard.read_ports(&spec.ports).await?;
        Ok(guard)
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
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(|e| api_error("reading the published ports", e))?;
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
                    let status = self.exit_status().await.unwrap_or(-1);
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

    /// The exit status, or `None` while the container runs.
    pub(crate) async fn exit_status(&self) -> Option<i64> {
        let inspect = self
            .engine
            .docker
            .inspect_container(&self.id, None)
            .await
            .ok()?;
        let state = inspect.state?;
        if state.running == Some(true) {
            None
        } else {
            Some(state.exit_code.unwrap_or(-1))
        }
    }

    /// The last `lines` lines of the container's stdout and stderr.
    pub(crate) async fn log_tail(&self, lines: usize) -> Vec<String> {
        self.logs(Some(lines)).await
    }

    /// The whole log since the container started.
    pub(crate) async fn logs(&self, tail: Option<usize>) -> Vec<String> {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&tail)
            .build();
        let mut stream = self.engine.docker.logs(&self.id, Some(options));
        let mut text = String::new();
        let collect = async {
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), collect).await;
        text.lines().map(str::to_owned).collect()
    }

    /// Runs a command in the container and collects its output and exit status.
    pub(crate) async fn exec(
        &self,
        argv: &[String],
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<ExecOutput, RuntimeError> {
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let exec = self
            .engine
            .docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    env: Some(env),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| api_error(format!("exec {}", argv.join(" ")), e))?;
        let started = self
            .engine
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| api_error(format!("exec {}", argv.join(" ")), e))?;
        let mut output = String::new();
        let mut timed_out = false;
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            let collect = async {
                while let Some(Ok(chunk)) = stream.next().await {
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            };
            timed_out = tokio::time::timeout(timeout, collect).await.is_err();
        }
        let status = if timed_out {
            -1
        } else {
            self.engine
                .docker
                .inspect_exec(&exec.id)
                .await
                .ok()
                .and_then(|i| i.exit_code)
                .unwrap_or(-1)
        };
        Ok(ExecOutput {
            status,
            output,
            timed_out,
        })
    }

    /// Sends a signal to the container's main process (e.g. HUP to reload).
    pub(crate) async fn signal(&self, signal: &str) -> Result<(), RuntimeError> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.engine
            .docker
            .kill_container(&self.id, Some(options))
            .await
            .map_err(|e| api_error(format!("sending {signal} to {}", self.name), e))
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
            while let Some(Ok(chunk)) = stream.next().await {
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

    /// Polls the readiness probe until it succeeds, the container dies, or time runs out.
    pub(crate) async fn wait_ready(
        &self,
        ready: &Ready,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let deadline = self.started + timeout;
        let mut interval = Duration::from_millis(5);
        let mut last_state_check = Instant::now();
        loop {
            if self.probe(ready).await {
                return Ok(());
            }
            let now = Instant::now();
            // A dead daemon never becomes ready: look every 100 ms rather than wait out
            // the whole timeout.
            if now.duration_since(last_state_check) >= Duration::from_millis(100) {
                last_state_check = now;
                if let Some(status) = self.exit_status().await {
                    return Err(RuntimeError::Died {
                        status,
                        log_tail: self.log_tail(20).await,
                    });
                }
            }
            if now >= deadline {
                if let Some(status) = self.exit_status().await {
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

    async fn probe(&self, ready: &Ready) -> bool {
        match ready {
            Ready::Dns { port, name } => match self.address(*port) {
                Some(addr) => {
                    crate::dns::probe(addr, !port.udp, name, Duration::from_millis(100)).await
                }
                None => false,
            },
            Ready::Tcp { port } => match self.address(*port) {
                Some(addr) => tcp_answers(addr).await,
                None => false,
            },
            Ready::Log { pattern } => self
                .logs(None)
                .await
                .iter()
                .any(|line| pattern.0.is_match(line)),
            Ready::Exec { command } => self
                .exec(command, &[], Duration::from_secs(5))
                .await
                .is_ok_and(|o| o.status == 0),
        }
    }

    /// Leaves the container running when the guard goes (`--keep`).
    pub(crate) fn keep(mut self) -> String {
        self.keep = true;
        self.registry.forget(&self.id);
        self.name.clone()
    }

    /// Stops and removes the container.
    pub(crate) async fn remove(mut self) -> Result<(), RuntimeError> {
        self.removed = true;
        self.registry.forget(&self.id);
        force_remove(&self.engine, &self.id)
            .await
            .map_err(|e| api_error(format!("removing container {}", self.name), e))
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.removed || self.keep {
            return;
        }
        // The async path was skipped (a panic unwinding through the run): remove the
        // container from a thread of its own, since no runtime can be awaited in drop.
        let engine = self.engine.clone();
        let id = self.id.clone();
        self.registry.forget(&id);
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(force_remove(&engine, &id));
            }
        })
        .join();
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
