//! Running a lifecycle method (UPDATE, VALIDATE, ...) in a container devloop did not start:
//! `docker exec` through the API, its output handed over line by line as it comes.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};

use super::{Engine, RuntimeError, api_error};

/// Which stream a line of a method's output came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// The argument vector that runs a method's command: a path runs as it is, a command line
/// goes through `sh -c` (as `docker exec` users write it into an image's metadata).
pub(crate) fn method_argv(command: &str) -> Vec<String> {
    if command.trim().contains(char::is_whitespace) {
        vec!["sh".to_owned(), "-c".to_owned(), command.to_owned()]
    } else {
        vec![command.trim().to_owned()]
    }
}

/// Runs `argv` in the running container `container` and returns its exit status. Each
/// complete line of output goes to `on_line` as soon as it arrives (a last line without a
/// newline too).
pub(crate) async fn exec_streaming(
    engine: &Engine,
    container: &str,
    argv: &[String],
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) -> Result<i64, RuntimeError> {
    let shown = argv.join(" ");
    let action = format!("exec {shown} in {container}");
    let exec = engine
        .call(
            action.clone(),
            engine.docker.create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            ),
        )
        .await?;
    let started = engine
        .call(action.clone(), engine.docker.start_exec(&exec.id, None))
        .await?;
    if let StartExecResults::Attached { mut output, .. } = started {
        let mut partial = [String::new(), String::new()];
        while let Some(chunk) = engine.next(&action, &mut output).await? {
            let chunk =
                chunk.map_err(|e| api_error(format!("reading the output of {shown}"), e))?;
            let (stream, bytes) = match chunk {
                LogOutput::StdErr { message } => (Stream::Stderr, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    (Stream::Stdout, message)
                }
                LogOutput::StdIn { .. } => continue,
            };
            let buffer = &mut partial[usize::from(stream == Stream::Stderr)];
            buffer.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                on_line(stream, line.trim_end_matches(['\n', '\r']));
            }
        }
        for (i, rest) in partial.iter().enumerate() {
            if !rest.is_empty() {
                let stream = if i == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                on_line(stream, rest);
            }
        }
    }
    exit_status(engine, &exec.id, &shown).await
}

/// The exit status of a finished exec. Its output can end a moment before the engine has
/// recorded the status, so a status still missing while the exec counts as running is
/// asked for again, for up to a second.
pub(super) async fn exit_status(
    engine: &Engine,
    exec: &str,
    shown: &str,
) -> Result<i64, RuntimeError> {
    let action = format!("reading the exit status of {shown}");
    let deadline = crate::deadline::from_now(std::time::Duration::from_secs(1));
    loop {
        let inspect = engine
            .call(action.clone(), engine.docker.inspect_exec(exec))
            .await?;
        match inspect.exit_code {
            Some(status) => return Ok(status),
            None if inspect.running == Some(true) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            None => {
                return Err(RuntimeError::Api {
                    action,
                    reason: "the engine reported none".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_runs_as_is_and_a_command_line_through_sh() {
        assert_eq!(method_argv("/service/bin/update"), ["/service/bin/update"]);
        assert_eq!(
            method_argv("/service/bin/update --fast"),
            ["sh", "-c", "/service/bin/update --fast"]
        );
    }
}
