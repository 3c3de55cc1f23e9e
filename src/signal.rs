//! Signals, in one place: the handlers (SIGINT, SIGTERM, SIGHUP, SIGQUIT), the
//! cancellation token a run checks at every wait, the grace period before a run is cut
//! short, and the exit status 128 + n. A leaf: it knows nothing of what it supervises.

use std::future::Future;

use tokio::signal::unix::{Signal as UnixSignal, SignalKind, signal};
use tokio::sync::watch;

use crate::exit;

/// How long a run may take to stop after a signal before what it waits for is cut short;
/// the teardown follows either way.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The signals that end a run: each tears the run down, then devloop exits 128 + its
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Hup,
    Int,
    Quit,
    Term,
}

impl Signal {
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Signal::Hup => exit::HUNG_UP,
            Signal::Int => exit::INTERRUPTED,
            Signal::Quit => exit::QUIT,
            Signal::Term => exit::TERMINATED,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Term => "SIGTERM",
        })
    }
}

/// Tells a run that it should stop, and why.
#[derive(Clone)]
pub(crate) struct Cancel(watch::Receiver<Option<Signal>>);

impl Cancel {
    pub(crate) fn new() -> (watch::Sender<Option<Signal>>, Cancel) {
        let (tx, rx) = watch::channel(None);
        (tx, Cancel(rx))
    }

    async fn cancelled(&mut self) -> Signal {
        loop {
            if let Some(signal) = *self.0.borrow_and_update() {
                return signal;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The signal that cancelled the run, if any.
    pub(crate) fn signal(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Runs `work` unless and until the run is cancelled.
    pub(crate) async fn guard<F: Future>(&self, work: F) -> Result<F::Output, Signal> {
        let mut cancel = self.clone();
        tokio::select! {
            biased;
            signal = cancel.cancelled() => Err(signal),
            value = work => Ok(value),
        }
    }
}

/// The signals that end a run: a terminal's Ctrl-C (SIGINT) and Ctrl-\\ (SIGQUIT), a
/// closed terminal, tmux pane or ssh session (SIGHUP), a supervisor (SIGTERM). Once
/// installed, the handlers stay for the life of the process: a signal never kills devloop
/// half-way through its teardown.
pub(crate) struct Signals(Source);

enum Source {
    Unix {
        hup: UnixSignal,
        int: UnixSignal,
        quit: UnixSignal,
        term: UnixSignal,
    },
    /// Signals sent by a test, through a channel: no process-wide handler is involved.
    #[cfg(test)]
    Sent(tokio::sync::mpsc::UnboundedReceiver<Signal>),
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals(Source::Unix {
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            term: signal(SignalKind::terminate())?,
        }))
    }

    /// Signals that arrive only when a test sends them.
    #[cfg(test)]
    pub(crate) fn sent() -> (tokio::sync::mpsc::UnboundedSender<Signal>, Signals) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (tx, Signals(Source::Sent(rx)))
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Signal {
        match &mut self.0 {
            Source::Unix {
                hup,
                int,
                quit,
                term,
            } => tokio::select! {
                _ = hup.recv() => Signal::Hup,
                _ = int.recv() => Signal::Int,
                _ = quit.recv() => Signal::Quit,
                _ = term.recv() => Signal::Term,
            },
            #[cfg(test)]
            Source::Sent(rx) => match rx.recv().await {
                Some(signal) => signal,
                None => std::future::pending().await,
            },
        }
    }
}

/// How supervised work ended.
pub(crate) struct Supervised<T> {
    /// What the work returned; an error when it panicked or was cut short.
    pub result: Result<T, tokio::task::JoinError>,
    /// The first signal, which asked the work to stop.
    pub signal: Option<Signal>,
    /// A second signal came: what follows (the teardown) should not wait for anything but
    /// the removals themselves.
    pub hurried: bool,
}

/// Runs `work` with a cancellation token of its own. The first signal cancels the token
/// (the work tears down what it started and returns); if it has not returned within the
/// grace period, or on a second signal, it is cut short. Whatever must survive a cut
/// (container removals) runs in tasks of its own.
pub(crate) async fn supervise<T, F>(
    signals: &mut Signals,
    work: impl FnOnce(Cancel) -> F,
) -> Supervised<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    supervise_with_grace(signals, GRACE, work).await
}

async fn supervise_with_grace<T, F>(
    signals: &mut Signals,
    grace: std::time::Duration,
    work: impl FnOnce(Cancel) -> F,
) -> Supervised<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (cancel_tx, cancel) = Cancel::new();
    let mut task = tokio::spawn(work(cancel));
    let mut received: Option<Signal> = None;
    let mut hurried = false;
    let mut cut_short_at: Option<tokio::time::Instant> = None;
    let result = loop {
        let timer = async {
            match cut_short_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            result = &mut task => break result,
            signal = signals.next() => {
                if received.is_none() {
                    received = Some(signal);
                    cut_short_at = Some(crate::deadline::after_tokio(
                        tokio::time::Instant::now(),
                        grace,
                    ));
                    let _ = cancel_tx.send(Some(signal));
                } else if !hurried {
                    hurried = true;
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr(),
                        "devloop: {signal} again: not waiting any longer; removing the run's containers"
                    );
                    task.abort();
                }
            }
            () = timer => task.abort(),
        }
    };
    Supervised {
        result,
        signal: received,
        hurried,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Work that stops when cancelled, after `teardown`.
    async fn obliging(cancel: Cancel, teardown: Duration) -> &'static str {
        if cancel.guard(std::future::pending::<()>()).await.is_err() {
            tokio::time::sleep(teardown).await;
            return "tore down";
        }
        "finished"
    }

    #[tokio::test]
    async fn work_that_ends_by_itself_is_not_signalled() {
        let (_tx, mut signals) = Signals::sent();
        let done = supervise(&mut signals, |_| async { 7 }).await;
        assert_eq!(done.result.expect("finished"), 7);
        assert_eq!(done.signal, None);
        assert!(!done.hurried);
    }

    #[tokio::test]
    async fn the_first_signal_asks_the_work_to_stop_and_waits_for_its_teardown() {
        let (tx, mut signals) = Signals::sent();
        tx.send(Signal::Hup).expect("send");
        let done = supervise(&mut signals, |cancel| {
            obliging(cancel, Duration::from_millis(20))
        })
        .await;
        assert_eq!(done.result.expect("returned"), "tore down");
        assert_eq!(done.signal, Some(Signal::Hup));
        assert_eq!(Signal::Hup.exit_code(), 129);
        assert!(!done.hurried);
    }

    #[tokio::test]
    async fn a_second_signal_cuts_the_work_short() {
        let (tx, mut signals) = Signals::sent();
        tx.send(Signal::Int).expect("send");
        tx.send(Signal::Int).expect("send");
        let done = supervise(&mut signals, |cancel| {
            obliging(cancel, Duration::from_secs(3600))
        })
        .await;
        assert!(done.result.is_err_and(|e| e.is_cancelled()));
        assert_eq!(done.signal, Some(Signal::Int));
        assert!(done.hurried);
    }

    #[tokio::test]
    async fn work_that_outlasts_the_grace_period_is_cut_short() {
        let (tx, mut signals) = Signals::sent();
        tx.send(Signal::Term).expect("send");
        let done = supervise_with_grace(&mut signals, Duration::from_millis(30), |cancel| {
            obliging(cancel, Duration::from_secs(3600))
        })
        .await;
        assert!(done.result.is_err_and(|e| e.is_cancelled()));
        assert_eq!(done.signal, Some(Signal::Term));
        assert!(!done.hurried);
    }
}
