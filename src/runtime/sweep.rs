//! Labels that mark devloop's containers, and the sweep that removes what a killed run
//! left behind.
//!
//! A container belongs to a run, and a run is a process on a host. The labels record the
//! host name, the PID and the PID's start time (so a recycled PID is not mistaken for the
//! run). A container whose run is gone is a leftover; the next run and `devloop clean`
//! remove it. A `--keep` container is left for `devloop clean`.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;

use super::{Engine, RuntimeError};

pub(crate) const OWNER_LABEL: &str = "devloop.owner";
pub(crate) const OWNER_VALUE: &str = "devloop";
const PROJECT_LABEL: &str = "devloop.project";
const RUN_LABEL: &str = "devloop.run";
const HOST_LABEL: &str = "devloop.host";
const PID_LABEL: &str = "devloop.pid";
const PID_START_LABEL: &str = "devloop.pid-start";
const KEEP_LABEL: &str = "devloop.keep";
const TASK_LABEL: &str = "devloop.task";

/// This process, as the owner of the containers it creates.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub host: String,
    pub pid: u32,
    pub pid_start: String,
    pub run: String,
}

impl Owner {
    pub(crate) fn current() -> Owner {
        let pid = std::process::id();
        let pid_start = process_start(pid).unwrap_or_default();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Unique enough for a name: time and PID, mixed so consecutive runs differ early.
        let mixed = (nanos as u64) ^ (u64::from(pid).rotate_left(40));
        Owner {
            host: hostname(),
            pid,
            pid_start,
            run: format!("{:010x}", mixed & 0xff_ffff_ffff),
        }
    }

    pub(crate) fn labels(&self, project: &str, task: &str, keep: bool) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (OWNER_LABEL.to_owned(), OWNER_VALUE.to_owned()),
            (PROJECT_LABEL.to_owned(), project.to_owned()),
            (RUN_LABEL.to_owned(), self.run.clone()),
            (HOST_LABEL.to_owned(), self.host.clone()),
            (PID_LABEL.to_owned(), self.pid.to_string()),
            (PID_START_LABEL.to_owned(), self.pid_start.clone()),
            (TASK_LABEL.to_owned(), task.to_owned()),
        ]);
        if keep {
            labels.insert(KEEP_LABEL.to_owned(), "true".to_owned());
        }
        labels
    }

    /// A container name that says whose it is: `devloop-<project>-<run>`.
    pub(crate) fn container_name(&self, project: &str) -> String {
        let project: String = project
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        format!("devloop-{project}-{}", self.run)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields resume after the
    // last ')'.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    after.split_whitespace().nth(19).map(str::to_owned)
}

/// Whether the run that created a container with these labels is gone.
fn is_orphan(labels: &HashMap<String, String>, this_host: &str) -> bool {
    if labels.get(HOST_LABEL).map(String::as_str) != Some(this_host) {
        // Another machine's run: we cannot tell whether it is alive.
        return false;
    }
    let Some(pid) = labels.get(PID_LABEL).and_then(|p| p.parse::<u32>().ok()) else {
        return true;
    };
    match process_start(pid) {
        None => true,
        Some(start) => labels.get(PID_START_LABEL) != Some(&start),
    }
}

/// A container `clean` or the sweep found.
#[derive(Debug, Clone)]
pub(crate) struct Swept {
    pub name: String,
    pub project: String,
    pub why: &'static str,
}

async fn devloop_containers(
    engine: &Engine,
) -> Result<Vec<bollard::models::ContainerSummary>, RuntimeError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{OWNER_LABEL}={OWNER_VALUE}")],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    engine
        .call(
            "listing devloop's containers",
            engine.docker.list_containers(Some(options)),
        )
        .await
}

async fn remove(engine: &Engine, id: &str) -> bool {
    super::container::remove_confirmed(engine, id).await.is_ok()
}

/// Removes containers whose run was killed before it could clean up.
pub(crate) async fn sweep_leftovers(engine: Engine) -> Result<Vec<Swept>, RuntimeError> {
    let host = hostname();
    let mut swept = Vec::new();
    for container in devloop_containers(&engine).await? {
        let labels = container.labels.clone().unwrap_or_default();
        if labels.contains_key(KEEP_LABEL) || !is_orphan(&labels, &host) {
            continue;
        }
        if let Some(id) = &container.id {
            if remove(&engine, id).await {
                swept.push(describe(&container, "its run is gone"));
            }
        }
    }
    Ok(swept)
}

/// `devloop clean`: removes leftovers and kept containers; with `all`, also those of runs
/// that are still going.
pub(crate) async fn clean(engine: &Engine, all: bool) -> Result<Vec<Swept>, RuntimeError> {
    let host = hostname();
    let mut swept = Vec::new();
    for container in devloop_containers(engine).await? {
        let labels = container.labels.clone().unwrap_or_default();
        // A kept container's run has ended; one whose run is still going is not ours to
        // take, kept or not, unless --all says so.
        let why = if is_orphan(&labels, &host) {
            if labels.contains_key(KEEP_LABEL) {
                "kept by --keep"
            } else {
                "its run is gone"
            }
        } else if all {
            "its run is still going (--all)"
        } else {
            continue;
        };
        if let Some(id) = &container.id {
            if remove(engine, id).await {
                swept.push(describe(&container, why));
            }
        }
    }
    Ok(swept)
}

fn describe(container: &bollard::models::ContainerSummary, why: &'static str) -> Swept {
    let name = container
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .or_else(|| container.id.clone())
        .unwrap_or_default();
    let project = container
        .labels
        .as_ref()
        .and_then(|l| l.get(PROJECT_LABEL).cloned())
        .unwrap_or_default();
    Swept { name, project, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_an_orphan_but_a_dead_pid_is() {
        let owner = Owner::current();
        let labels = owner.labels("p", "t", false);
        assert!(!is_orphan(&labels, &owner.host));
        let mut dead = labels.clone();
        dead.insert(PID_LABEL.into(), "999999999".into());
        assert!(is_orphan(&dead, &owner.host));
        let mut recycled = labels.clone();
        recycled.insert(PID_START_LABEL.into(), "1".into());
        assert!(is_orphan(&recycled, &owner.host));
        assert!(!is_orphan(&dead, "another-host"));
    }

    #[test]
    fn container_names_are_safe() {
        let owner = Owner::current();
        let name = owner.container_name("my project/x");
        assert!(name.starts_with("devloop-my-project-x-"), "{name}");
    }
}
