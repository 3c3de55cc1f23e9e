//! Running one planned step: a DNS query against the published port, a command in the
//! container, or a command on the host, judged against what the step expects.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::config::ContainerPort;
use crate::dns::{self, Query, Transport};
use crate::events::{CheckOutcome, Reply};
use crate::host_process::ProcessGroup;
use crate::plan::{Action, CommandCheck, DnsCheck, HostCommand, PlannedStep};
use crate::runtime::{ContainerGuard, ExecOutput, ImageInfo, RuntimeError};
use crate::shellwords::{quote, shell_words};

/// How many log lines a failure shows.
pub(crate) const LOG_TAIL: usize = 12;

/// What a step may use.
pub(crate) struct Context<'a> {
    pub container: Option<&'a ContainerGuard>,
    pub image: Option<&'a ImageInfo>,
    /// The project root: host commands run there.
    pub root: &'a Path,
}

/// What a check found, before it is stamped with name and time.
struct Finding {
    passed: bool,
    detail: String,
    asked: String,
    got: String,
    command: String,
}

pub(crate) async fn run_step(step: &PlannedStep, cx: &Context<'_>) -> CheckOutcome {
    let started = Instant::now();
    let mut reply = None;
    let finding = match &step.action {
        Action::Dns(check) => dns_check(check, cx, &mut reply).await,
        Action::Exec(check) => exec_check(check, cx).await,
        Action::Method { method, check } => method_check(method, check, cx).await,
        Action::Host(command) => host_command(command, cx).await,
        // Rendering can fail as a config error, which a check cannot express; the run
        // loop handles construct steps itself (run::construct_step).
        Action::Construct { .. } => Finding {
            passed: false,
            detail: "construct steps are run by the run loop".into(),
            asked: String::new(),
            got: String::new(),
            command: String::new(),
        },
    };
    let duration = started.elapsed();
    CheckOutcome {
        task: step.task.clone(),
        name: step.name.clone(),
        passed: finding.passed,
        duration,
        detail: finding.detail,
        asked: finding.asked,
        got: finding.got,
        command: finding.command,
        log_tail: Vec::new(),
        reply,
    }
}

fn unpublished(port: ContainerPort, asked: String) -> Finding {
    Finding {
        passed: false,
        detail: format!("port {port} is not published; add it to the service's ports"),
        asked,
        got: String::new(),
        command: String::new(),
    }
}

/// Sets `reply` when the service was asked.
async fn dns_check(check: &DnsCheck, cx: &Context<'_>, reply: &mut Option<Reply>) -> Finding {
    let asked = format!("{} {} over {}", check.kind, check.name, check.port);
    let Some(container) = cx.container else {
        return unpublished(check.port, asked);
    };
    let (udp, tcp) = if check.port.udp {
        (
            container.address(check.port),
            container.twin_address(check.port),
        )
    } else {
        (
            container.twin_address(check.port),
            container.address(check.port),
        )
    };
    if udp.is_none() && tcp.is_none() {
        return unpublished(check.port, asked);
    }
    let transport = match (check.transport, udp, tcp) {
        (_, None, Some(_)) => Transport::Tcp,
        // A step that names a TCP port asks over TCP.
        (Transport::UdpThenTcp, _, Some(_)) if !check.port.udp => Transport::Tcp,
        (Transport::Tcp, _, None) => return unpublished(check.port, asked),
        (t, _, _) => t,
    };
    let query = Query {
        name: check.name.clone(),
        kind: check.kind,
        udp,
        tcp,
        transport,
        timeout: check.timeout,
    };
    let command = dns::dig_command(&query);
    let answer = dns::query(&query).await;
    *reply = Some(match &answer {
        Err(_) => Reply::Silent,
        Ok(answer) => Reply::from_rcode(&answer.rcode),
    });
    match answer {
        Err(e) => Finding {
            passed: false,
            detail: e.to_string(),
            asked,
            got: "no answer".to_owned(),
            command,
        },
        Ok(answer) => {
            let got = dns::describe(&answer);
            match dns::evaluate(&check.expect, &answer, check.kind) {
                Ok(()) => Finding {
                    passed: true,
                    detail: got.lines().collect::<Vec<_>>().join("; "),
                    asked,
                    got,
                    command,
                },
                Err(mismatch) => Finding {
                    passed: false,
                    detail: format!("expected {}, got {}", mismatch.expected, mismatch.got),
                    asked,
                    got,
                    command,
                },
            }
        }
    }
}

/// The line of a failed command's output that most likely says what went wrong: the
/// first that names a file and line (`zones/x.zone:20: ...`) or sounds like an error, else
/// the last one.
fn complaint(output: &str) -> &str {
    static SOUNDS_WRONG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i):\d+:|error|fail|invalid|bad |not found|denied|refused|unknown")
            .expect("a valid pattern")
    });
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .find(|l| SOUNDS_WRONG.is_match(l))
        .or(lines.last())
        .copied()
        .unwrap_or("")
}

/// Judges a command's exit status and output against the check.
fn judge(check: &CommandCheck, status: i64, output: &str, timed_out: bool) -> (bool, String) {
    if timed_out {
        return (false, format!("did not finish within {:?}", check.timeout));
    }
    if status != check.status {
        let culprit = complaint(output);
        let tail = if culprit.is_empty() {
            String::new()
        } else {
            format!(": {culprit}")
        };
        return (
            false,
            format!("exit status {status}, expected {}{tail}", check.status),
        );
    }
    if let Some(pattern) = &check.pattern {
        if !pattern.0.is_match(output) {
            return (false, format!("output does not match /{pattern}/"));
        }
    }
    if let Some(pattern) = &check.no_match {
        if let Some(line) = output.lines().find(|l| pattern.0.is_match(l)) {
            return (false, format!("output matches /{pattern}/: {line}"));
        }
    }
    let summary = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    (
        true,
        format!(
            "exit status {status}{}",
            if summary.is_empty() {
                String::new()
            } else {
                format!(": {summary}")
            }
        ),
    )
}

async fn exec_in(container: &ContainerGuard, check: &CommandCheck, argv: &[String]) -> Finding {
    let asked = format!("run in the container: {}", shell_words(argv));
    let mut command = String::from("docker exec");
    for (k, v) in &check.env {
        command.push_str(&format!(" -e {}", quote(&format!("{k}={v}"))));
    }
    command.push_str(&format!(" {} {}", container.name, shell_words(argv)));
    match container.exec(argv, &check.env, check.timeout).await {
        Err(e) => Finding {
            passed: false,
            detail: format!("the exec could not be completed: {e}"),
            asked,
            got: String::new(),
            command,
        },
        Ok(ExecOutput {
            status,
            output,
            timed_out,
        }) => {
            let (passed, detail) = judge(check, status, &output, timed_out);
            Finding {
                passed,
                detail,
                asked,
                got: output.trim_end().to_owned(),
                command,
            }
        }
    }
}

async fn exec_check(check: &CommandCheck, cx: &Context<'_>) -> Finding {
    match cx.container {
        Some(container) => exec_in(container, check, &check.argv).await,
        None => no_container(&check.argv),
    }
}

fn no_container(argv: &[String]) -> Finding {
    Finding {
        passed: false,
        detail: "no service container is running".to_owned(),
        asked: shell_words(argv),
        got: String::new(),
        command: String::new(),
    }
}

async fn method_check(method: &str, check: &CommandCheck, cx: &Context<'_>) -> Finding {
    let (Some(container), Some(image)) = (cx.container, cx.image) else {
        return no_container(&[method.to_owned()]);
    };
    let Some(command) = image.method(method) else {
        return Finding {
            passed: false,
            detail: format!(
                "image {} declares no {method} method (ENV {method}_METHOD or LABEL devloop.method.{})",
                image.name,
                method.to_lowercase()
            ),
            asked: format!("the image's {method} method"),
            got: String::new(),
            command: format!("docker inspect {}", image.name),
        };
    };
    exec_in(container, check, &crate::runtime::method_argv(&command)).await
}

async fn host_command(host: &HostCommand, cx: &Context<'_>) -> Finding {
    let check = &host.check;
    let asked = match &host.script {
        Some(script) => format!("sh -c {}", quote(script)),
        None => shell_words(&check.argv),
    };
    let Some((program, args)) = check.argv.split_first() else {
        return no_container(&check.argv);
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(cx.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own: the step's processes can be ended together, and a
        // terminal's Ctrl-C or hang-up reaches devloop, which ends them in order.
        .process_group(0);
    for (k, v) in &check.env {
        command.env(k, v);
    }
    if let Some(container) = cx.container {
        command.env("DEVLOOP_CONTAINER", &container.name);
        for (port, host_port) in &container.ports {
            command.env(
                format!("DEVLOOP_PORT_{}_{}", port.port, port.proto().to_uppercase()),
                host_port.to_string(),
            );
        }
    }
    let cannot_run = |e: std::io::Error| Finding {
        passed: false,
        detail: format!("cannot run {program}: {e}"),
        asked: asked.clone(),
        got: String::new(),
        command: asked.clone(),
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return cannot_run(e),
    };
    let Some(group) = child.id().and_then(ProcessGroup::led_by) else {
        return cannot_run(std::io::Error::other(
            "it exited before it could be watched",
        ));
    };
    let output = Output::collect(&mut child);
    // The step is over when its command exits, whatever it left running in the background
    // (holding its output open or not): that ends with the step.
    let waited = tokio::time::timeout(check.timeout, child.wait()).await;
    group.end(crate::host_process::GRACE).await;
    let text = output.finish().await;
    let (status, timed_out) = match waited {
        Err(_) => (-1, true),
        Ok(Err(e)) => return cannot_run(e),
        Ok(Ok(status)) => (i64::from(status.code().unwrap_or(-1)), false),
    };
    let (passed, detail) = judge(check, status, &text, timed_out);
    Finding {
        passed,
        detail,
        asked: asked.clone(),
        got: text.trim_end().to_owned(),
        command: asked,
    }
}

/// A host command's stdout and stderr, read as they come, so that what was written is
/// there even when the command is ended before it closes them.
struct Output {
    text: std::sync::Arc<std::sync::Mutex<[Vec<u8>; 2]>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// How long the end of a host step's output may take once its processes are gone (only a
/// process that left the group can still hold it open).
const OUTPUT_DRAIN: Duration = Duration::from_millis(200);

impl Output {
    fn collect(child: &mut tokio::process::Child) -> Output {
        use tokio::io::AsyncReadExt;
        let text = std::sync::Arc::new(std::sync::Mutex::new([Vec::new(), Vec::new()]));
        let mut readers = Vec::new();
        let pipes: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
            child.stdout.take().map(|p| Box::new(p) as _),
            child.stderr.take().map(|p| Box::new(p) as _),
        ];
        for (i, pipe) in pipes.into_iter().enumerate() {
            let Some(mut pipe) = pipe else { continue };
            let sink = std::sync::Arc::clone(&text);
            readers.push(tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut text) = sink.lock() {
                        text[i].extend_from_slice(&buf[..n]);
                    }
                }
            }));
        }
        Output { text, readers }
    }

    /// stdout then stderr, as far as they were written.
    async fn finish(mut self) -> String {
        let readers = futures_util::future::join_all(self.readers.iter_mut());
        let _ = tokio::time::timeout(OUTPUT_DRAIN, readers).await;
        for reader in &self.readers {
            reader.abort();
        }
        let text = self.text.lock().map(|t| t.clone()).unwrap_or_default();
        let mut out = String::from_utf8_lossy(&text[0]).into_owned();
        out.push_str(&String::from_utf8_lossy(&text[1]));
        out
    }
}

/// The log lines that fail a run even when every check passed (`service.fail_on_log`),
/// or why the log could not be read.
pub(crate) fn log_complaints(
    lines: &Result<Vec<String>, RuntimeError>,
    patterns: &[crate::config::Pattern],
) -> Result<Vec<String>, RuntimeError> {
    let lines = lines.as_ref().map_err(Clone::clone)?;
    Ok(lines
        .iter()
        .filter(|line| patterns.iter().any(|p| p.0.is_match(line)))
        .cloned()
        .collect())
}

/// The name the `service.fail_on_log` check is reported under.
pub(crate) const LOG_CHECK: &str = "service log";

/// The `service log` check: no complaints passes; complaints, or a log that could not be
/// read (nothing is known about it then), fail.
pub(crate) fn log_check(
    task: &str,
    container: &str,
    complaints: Result<Vec<String>, RuntimeError>,
    duration: Duration,
) -> CheckOutcome {
    let (passed, detail, got) = match complaints {
        Ok(complaints) if complaints.is_empty() => (
            true,
            "no complaints in the service's log".to_owned(),
            String::new(),
        ),
        Ok(complaints) => (
            false,
            format!(
                "the service complained {} time(s): {}",
                complaints.len(),
                complaints[0]
            ),
            complaints.join("\n"),
        ),
        Err(e) => (
            false,
            format!("the service's log could not be read: {e}"),
            String::new(),
        ),
    };
    CheckOutcome {
        task: task.to_owned(),
        name: LOG_CHECK.to_owned(),
        passed,
        duration,
        detail,
        asked: "log lines matching service.fail_on_log".to_owned(),
        got,
        command: format!("docker logs {container}"),
        log_tail: Vec::new(),
        reply: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pattern;

    fn check(status: i64, pattern: Option<&str>) -> CommandCheck {
        CommandCheck {
            argv: vec![],
            env: vec![],
            status,
            pattern: pattern.map(|p| Pattern(regex::Regex::new(p).expect("regex"))),
            no_match: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn commands_are_judged_by_status_then_output() {
        assert!(judge(&check(0, None), 0, "ok", false).0);
        let (passed, detail) = judge(&check(0, None), 1, "zone x: bad\n", false);
        assert!(!passed);
        assert_eq!(detail, "exit status 1, expected 0: zone x: bad");
        let (_, detail) = judge(
            &check(0, None),
            1,
            "zone a: loaded\nx.zone:20: bad dotted quad\nzone a: not loaded\n",
            false,
        );
        assert_eq!(
            detail,
            "exit status 1, expected 0: x.zone:20: bad dotted quad"
        );
        assert!(!judge(&check(0, Some("loaded")), 0, "nothing", false).0);
        assert!(judge(&check(0, Some("loaded")), 0, "zone loaded", false).0);
        assert!(!judge(&check(0, None), 0, "", true).0);
    }

    #[test]
    fn a_service_log_that_could_not_be_read_does_not_pass() {
        let patterns = [Pattern(regex::Regex::new("invalid").expect("regex"))];
        let unreadable: Result<Vec<String>, RuntimeError> = Err(RuntimeError::Api {
            action: "reading the log of c".into(),
            reason: "no such container".into(),
        });
        let check = log_check(
            "t",
            "c",
            log_complaints(&unreadable, &patterns),
            Duration::ZERO,
        );
        assert!(!check.passed);
        assert_eq!(
            check.detail,
            "the service's log could not be read: reading the log of c failed: no such container"
        );
        let clean = Ok(vec!["zones loaded".to_owned()]);
        assert!(log_check("t", "c", log_complaints(&clean, &patterns), Duration::ZERO).passed);
        let bad = Ok(vec!["invalid line 3".to_owned()]);
        let check = log_check("t", "c", log_complaints(&bad, &patterns), Duration::ZERO);
        assert!(!check.passed);
        assert_eq!(check.got, "invalid line 3");
    }

    #[tokio::test]
    async fn host_commands_get_arguments_as_environment_not_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("pwned");
        let hostile = format!("$(touch {})", marker.display());
        let step = HostCommand {
            check: CommandCheck {
                argv: vec!["sh".into(), "-c".into(), "printf '%s' \"$host\"".into()],
                env: vec![("host".into(), hostile.clone())],
                ..check(0, None)
            },
            script: Some("printf '%s' \"$host\"".into()),
        };
        let cx = Context {
            container: None,
            image: None,
            root: dir.path(),
        };
        let finding = host_command(&step, &cx).await;
        assert!(finding.passed, "{}", finding.detail);
        assert_eq!(finding.got, hostile);
        assert!(!marker.exists(), "the argument was executed");
    }
}
