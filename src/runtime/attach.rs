//! A command in a container, attached to this terminal (stdin, stdout, raw mode, window
//! size): what `devloop shell` opens in the service container.

use std::io::IsTerminal;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptionsBuilder;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ContainerGuard, RuntimeError};

/// Runs `command` (default: `sh`) in the service container attached to this terminal and
/// returns its exit status.
pub(crate) async fn attach(
    container: &ContainerGuard,
    command: &[String],
) -> Result<i64, RuntimeError> {
    let argv = if command.is_empty() {
        vec!["sh".to_owned()]
    } else {
        command.to_vec()
    };
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let engine = &container.engine;
    let docker = &engine.docker;
    let exec = engine
        .call(
            format!("exec {}", argv.join(" ")),
            docker.create_exec(
                &container.id,
                CreateExecOptions {
                    cmd: Some(argv.clone()),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(tty),
                    env: Some(vec!["TERM=xterm".to_owned()]),
                    ..Default::default()
                },
            ),
        )
        .await?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = engine
        .call("starting the shell", docker.start_exec(&exec.id, None))
        .await?
    else {
        return Err(RuntimeError::Api {
            action: "starting the shell".into(),
            reason: "the engine did not attach".into(),
        });
    };
    let raw = if tty { RawMode::enter() } else { None };
    if let Some((rows, cols)) = raw.as_ref().and_then(|_| terminal_size()) {
        let options = ResizeExecOptionsBuilder::default().h(rows).w(cols).build();
        let _ = engine
            .call(
                "resizing the terminal",
                docker.resize_exec(&exec.id, options),
            )
            .await;
    }
    let forward_input = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 || input.write_all(&buf[..n]).await.is_err() {
                break;
            }
            let _ = input.flush().await;
        }
        let _ = input.shutdown().await;
    });
    let mut stdout = tokio::io::stdout();
    while let Some(Ok(chunk)) = output.next().await {
        if stdout.write_all(&chunk.into_bytes()).await.is_err() {
            break;
        }
        let _ = stdout.flush().await;
    }
    forward_input.abort();
    drop(raw);
    let inspect = engine
        .call(
            "reading the shell's exit status",
            docker.inspect_exec(&exec.id),
        )
        .await?;
    Ok(inspect.exit_code.unwrap_or(0))
}

fn terminal_size() -> Option<(i32, i32)> {
    let (rows, cols) = console::Term::stdout().size_checked()?;
    Some((i32::from(rows), i32::from(cols)))
}

/// The terminal in raw mode for as long as this lives, so keys reach the shell as typed.
struct RawMode(libc::termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on stdin with a termios owned by this frame.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes saved by `enter`.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0);
        }
    }
}
