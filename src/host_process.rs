//! The processes of host steps: each step's command leads a process group of its own, and
//! the whole group ends with the step (SIGTERM, a grace period, then SIGKILL), so that
//! `sleep 44 &` in a step does not outlive it. When a run is cut short (a signal), the
//! group gets SIGTERM at once and the top level ends it before devloop exits.
//!
//! A group is a process-wide resource, like a signal handler, so the groups that may still
//! have members are kept in one process-wide list rather than threaded through every run.
//! Processes that leave their group (`setsid`, a daemon that detaches) are not followed.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a host step's processes get between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// How long SIGKILL may take to end a process (it is not instant for one in the middle
/// of a system call).
const KILL_WAIT: Duration = Duration::from_secs(1);

/// The groups that may still have members.
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The process group a host step's command leads.
pub(crate) struct ProcessGroup {
    id: i32,
    ended: bool,
}

impl ProcessGroup {
    /// The group of a child spawned as the leader of a new group (`process_group(0)`).
    pub(crate) fn led_by(child: u32) -> Option<ProcessGroup> {
        let id = i32::try_from(child).ok().filter(|id| *id > 1)?;
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).push(id);
        Some(ProcessGroup { id, ended: false })
    }

    /// Ends every process of the group: SIGTERM, and SIGKILL for what is left after
    /// `grace`. Returns once no process of the group is left.
    pub(crate) async fn end(mut self, grace: Duration) {
        end_group(self.id, grace).await;
        self.ended = true;
    }
}

impl Drop for ProcessGroup {
    /// The step was abandoned half-way (the run was cancelled): ask the group to stop now;
    /// [`end_all`] finishes the job before devloop exits.
    fn drop(&mut self) {
        if !self.ended {
            signal(self.id, libc::SIGTERM);
        }
    }
}

/// Ends every group that may still have members, as [`ProcessGroup::end`] does; the run
/// is over.
pub(crate) async fn end_all(grace: Duration) {
    let live: Vec<i32> = LIVE.lock().unwrap_or_else(PoisonError::into_inner).clone();
    futures_util::future::join_all(live.into_iter().map(|id| end_group(id, grace))).await;
}

async fn end_group(id: i32, grace: Duration) {
    if has_members(id) {
        signal(id, libc::SIGTERM);
        let deadline = crate::deadline::from_now(grace);
        while has_members(id) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if has_members(id) {
            signal(id, libc::SIGKILL);
            let deadline = crate::deadline::from_now(KILL_WAIT);
            while has_members(id) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|live| *live != id);
}

fn signal(group: i32, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals the process group `group`; it touches
    // no memory. A group that is gone gives ESRCH, which is fine.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// Whether a live process (not a zombie, which is dead already) is in the group.
fn has_members(group: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the group exists.
    if unsafe { libc::kill(-group, 0) } != 0 {
        return false;
    }
    // Zombies still count for kill(2); /proc tells them apart.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| live_group(&stat))
                == Some(group)
    })
}

/// The process group in a `/proc/PID/stat` line, unless the process is a zombie.
fn live_group(stat: &str) -> Option<i32> {
    // The command name (field 2) may hold spaces and parentheses; fields resume after the
    // last ')': state, parent, group.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    let group = fields.nth(1)?.parse().ok()?;
    (state != "Z" && state != "X").then_some(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_the_group_of_live_processes_only() {
        assert_eq!(live_group("42 (sleep) S 41 40 40 0 -1 ..."), Some(40));
        assert_eq!(live_group("42 (a (b) c) R 41 39 39 0"), Some(39));
        assert_eq!(live_group("42 (sh) Z 41 40 40 0"), None);
    }

    #[tokio::test]
    async fn ending_a_group_ends_the_children_it_left_behind() {
        let mut command = tokio::process::Command::new("sh");
        command
            .args(["-c", "sleep 30 & sleep 31 & echo started; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("spawn sh");
        let group = ProcessGroup::led_by(child.id().expect("pid")).expect("a group");
        let id = group.id;
        let mut line = String::new();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line)
            .await
            .expect("read");
        assert!(has_members(id));
        let started = Instant::now();
        group.end(GRACE).await;
        let _ = child.wait().await;
        assert!(!has_members(id), "the group outlived its end");
        assert!(started.elapsed() < GRACE, "SIGTERM should have been enough");
        assert!(!LIVE.lock().expect("lock").contains(&id));
    }
}
