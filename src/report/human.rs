//! The terminal report: a spinner while the service starts, one line per check, and on a
//! failure what was asked, what came back and the tail of the container's log. The other
//! commands' events are drawn by family: `project`, `image`, `fleet`.

mod fleet;
mod image;
mod project;

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use console::{Term, style};
use indicatif::{ProgressBar, ProgressStyle};

use super::short_id;
use crate::events::{CheckOutcome, Event, Reporter, Skip, Summary, Tally, Verdict};

pub(crate) struct Human {
    out: Box<dyn Write + Send>,
    /// Notes and progress, which are not the report (stderr).
    err: Box<dyn Write + Send>,
    spinner: Option<ProgressBar>,
    /// Whether to draw a spinner at all (stderr is a terminal).
    animate: bool,
    /// `-v`: show the equivalent command of every check, and passing details.
    verbose: bool,
    /// The container's log is shown with the first failure only; later ones point back.
    log_shown: bool,
    /// Whether `out` is a terminal, whose screen a watch round may clear.
    terminal: bool,
    /// Methods run in several containers: each line says whose it is.
    several: bool,
}

impl Human {
    pub(crate) fn new(verbose: bool) -> Self {
        Self {
            terminal: Term::stdout().is_term(),
            ..Self::to(Box::new(Term::stdout()), Term::stderr().is_term(), verbose)
        }
    }

    fn to(out: Box<dyn Write + Send>, animate: bool, verbose: bool) -> Self {
        Self {
            out,
            err: Box::new(Term::stderr()),
            spinner: None,
            animate,
            verbose,
            log_shown: false,
            terminal: false,
            several: false,
        }
    }

    /// The spinner, started if it is not spinning yet.
    fn spinner(&mut self) -> &ProgressBar {
        self.spinner.get_or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(80));
            bar
        })
    }

    fn stop_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    fn line(&mut self, text: impl AsRef<str>) {
        // A closed pipe (`devloop ... | head`) is not an error worth a message.
        let _ = writeln!(self.out, "{}", text.as_ref());
    }

    /// A line on stderr: a note, progress, what a method wrote there.
    fn err_line(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.err, "{}", text.as_ref());
    }

    fn check(&mut self, check: &CheckOutcome) {
        let time = style(format!("({})", format_duration(check.duration))).dim();
        if check.passed {
            let detail = if self.verbose && !check.detail.is_empty() {
                format!(" {}", style(&check.detail).dim())
            } else {
                String::new()
            };
            self.line(format!(
                "{} {} {time}{detail}",
                style("✓").green(),
                check.name
            ));
            if self.verbose && !check.command.is_empty() {
                self.line(format!(
                    "    {}",
                    style(format!("$ {}", check.command)).dim()
                ));
            }
            return;
        }
        self.line(format!(
            "{} {} {time}",
            style("✗").red().bold(),
            style(&check.name).bold()
        ));
        self.line(format!("    {}", check.detail));
        if !check.asked.is_empty() {
            self.line(format!("    asked: {}", check.asked));
        }
        if !check.got.is_empty() {
            let mut lines = check.got.lines();
            self.line(format!("    got:   {}", lines.next().unwrap_or_default()));
            for line in lines {
                self.line(format!("           {line}"));
            }
        }
        if !check.command.is_empty() {
            self.line(format!("    by hand: {}", style(&check.command).cyan()));
        }
        if check.log_tail.is_empty() {
            return;
        }
        if self.log_shown {
            self.line(format!("    {}", style("(container log above)").dim()));
            return;
        }
        self.log_shown = true;
        self.line(format!(
            "    {}",
            style("container log (last lines):").dim()
        ));
        for line in &check.log_tail {
            self.line(format!("    | {line}"));
        }
    }

    /// A step that did not run: one dimmed line with the reason.
    fn skipped(&mut self, skip: &Skip) {
        self.line(
            style(format!("○ {} (skipped: {})", skip.name, skip.reason))
                .dim()
                .to_string(),
        );
    }

    fn summary(&mut self, summary: &Summary) {
        let time = format_duration(summary.duration);
        let counts = counts(&summary.counts);
        // With prerequisites, each task's share, so a failure is put where it happened;
        // the verdict stays the last line.
        let tasks: Vec<(&str, &Tally)> = summary
            .tasks
            .iter()
            .filter(|(_, tally)| tally.total() > 0)
            .collect();
        if tasks.len() > 1 {
            let width = tasks.iter().map(|(task, _)| task.len()).max().unwrap_or(0);
            for (task, tally) in tasks {
                self.line(format!("  {task:width$}  {}", self::counts(tally)));
            }
        }
        let image = match (&summary.image, &summary.image_id) {
            (Some(image), Some(id)) => format!(" [{image} {}]", short_id(id)),
            (Some(image), None) => format!(" [{image}]"),
            _ => String::new(),
        };
        let head = match summary.verdict {
            Verdict::Passed => style("PASS").green().bold(),
            Verdict::Failed => style("FAIL").red().bold(),
            Verdict::Error => style("ERROR").red().bold(),
            Verdict::Interrupted => style("INTERRUPTED").yellow().bold(),
        };
        self.line(format!(
            "{head} {}: {counts} in {time}{}",
            summary.task,
            style(image).dim()
        ));
    }
}

fn counts(tally: &Tally) -> String {
    let mut text = format!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.skipped > 0 {
        let _ = write!(text, ", {} skipped", tally.skipped);
    }
    text
}

/// A duration as an operator reads it: a DNS answer from a warm container takes a fraction
/// of a millisecond, and "0 ms" would say it took no time at all.
pub(crate) fn format_duration(d: Duration) -> String {
    if d < Duration::from_micros(100) {
        format!("{} µs", d.as_micros())
    } else if d < Duration::from_millis(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else if d < Duration::from_secs(10) {
        format!("{} ms", (d.as_secs_f64() * 1000.0).round())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl Reporter for Human {
    fn report(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { .. } => {}
            Event::Phase { message } => {
                if !self.animate {
                    return;
                }
                self.spinner().set_message(message.clone());
            }
            Event::ServiceReady {
                container,
                ports,
                elapsed,
            } => {
                self.stop_spinner();
                if self.verbose {
                    let published: Vec<String> = ports
                        .iter()
                        .map(|(port, host)| format!("{port} -> 127.0.0.1:{host}"))
                        .collect();
                    self.line(
                        style(format!(
                            "service {container} ready in {} ({})",
                            format_duration(*elapsed),
                            published.join(", ")
                        ))
                        .dim()
                        .to_string(),
                    );
                }
            }
            Event::Check(check) => {
                self.stop_spinner();
                self.check(check);
            }
            Event::Skipped(skip) => {
                self.stop_spinner();
                self.skipped(skip);
            }
            Event::Note { message } => {
                self.stop_spinner();
                self.err_line(message);
            }
            Event::Summary(summary) => {
                self.stop_spinner();
                self.summary(summary);
            }
            Event::Round {
                task,
                time,
                trigger,
                clear,
            } => {
                self.stop_spinner();
                if *clear && self.terminal {
                    // What `console::Term::clear_screen` writes.
                    let _ = write!(self.out, "\r\x1b[2J\r\x1b[H");
                }
                self.line(
                    style(format!("── devloop watch · {task} · {time} · {trigger}"))
                        .bold()
                        .to_string(),
                );
            }
            Event::Project(event) => self.project(event),
            Event::Image(event) => self.image(event),
            Event::Fleet(event) => self.fleet(event),
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.stop_spinner();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What the report wrote, as a terminal would show it without colours.
    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("screen").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn shown(events: &[Event<'_>]) -> String {
        screens(events, false).0
    }

    /// What the report wrote on stdout and on stderr, without colours.
    pub(super) fn screens(events: &[Event<'_>], verbose: bool) -> (String, String) {
        let (out, err) = (Screen::default(), Screen::default());
        let mut human = Human::to(Box::new(out.clone()), false, verbose);
        human.err = Box::new(err.clone());
        for event in events {
            human.report(event);
        }
        let text = |screen: Screen| {
            let bytes = screen.0.lock().expect("screen").clone();
            console::strip_ansi_codes(&String::from_utf8_lossy(&bytes)).into_owned()
        };
        (text(out), text(err))
    }

    pub(super) fn check(name: &str, passed: bool, micros: u64) -> CheckOutcome {
        CheckOutcome {
            task: "test:lists".into(),
            name: name.into(),
            passed,
            duration: Duration::from_micros(micros),
            detail: if passed {
                "ok".into()
            } else {
                "expected A 127.0.0.2, got NXDOMAIN".into()
            },
            asked: "A x.bl".into(),
            got: "NXDOMAIN".into(),
            command: "dig x.bl".into(),
            log_tail: Vec::new(),
            reply: None,
        }
    }

    #[test]
    fn a_check_line_shows_a_fraction_of_a_millisecond() {
        let quick = check("black list", true, 300);
        let slow = check("white list", false, 2_000);
        let text = shown(&[Event::Check(&quick), Event::Check(&slow)]);
        assert!(text.contains("✓ black list (0.3 ms)\n"), "{text}");
        assert!(text.contains("✗ white list (2 ms)\n"), "{text}");
    }

    #[test]
    fn durations_under_a_millisecond_show_as_they_are() {
        let shown = |micros| format_duration(Duration::from_micros(micros));
        assert_eq!(shown(40), "40 µs");
        assert_eq!(shown(300), "0.3 ms");
        assert_eq!(shown(960), "1.0 ms");
        assert_eq!(shown(1_400), "1 ms");
        assert_eq!(shown(2_600), "3 ms");
        assert_eq!(shown(9_999_000), "9999 ms");
        assert_eq!(shown(12_345_000), "12.3 s");
    }

    #[test]
    fn steps_that_did_not_run_are_dimmed_lines_and_each_task_is_counted() {
        let failed = CheckOutcome {
            task: "test:lists".into(),
            ..check("bl RFC 5782", false, 800)
        };
        let skip = Skip {
            task: "test".into(),
            name: "the image's VALIDATE method passes".into(),
            reason: "prerequisite test:lists failed at `bl RFC 5782`".into(),
        };
        let mut tasks = crate::events::Tallies::new(["test:lists", "test"]);
        for _ in 0..9 {
            tasks.passed("test:lists");
        }
        tasks.failed("test:lists");
        tasks.skipped("test");
        tasks.passed("test");
        let summary = Summary {
            task: "test".into(),
            verdict: Verdict::Failed,
            counts: tasks.total(),
            tasks,
            duration: Duration::from_millis(35),
            image: None,
            image_id: None,
            error: None,
        };
        let text = shown(&[
            Event::Check(&failed),
            Event::Skipped(&skip),
            Event::Summary(&summary),
        ]);
        assert!(
            text.contains(
                "\n○ the image's VALIDATE method passes (skipped: prerequisite test:lists failed at `bl RFC 5782`)\n"
            ),
            "{text}"
        );
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        assert_eq!(
            tail,
            [
                "FAIL test: 10 passed, 1 failed, 1 skipped in 35 ms",
                "  test        1 passed, 0 failed, 1 skipped",
                "  test:lists  9 passed, 1 failed",
            ],
            "{text}"
        );
    }

    #[test]
    fn a_single_task_is_one_verdict_line() {
        let mut tasks = crate::events::Tallies::new(["test:host"]);
        tasks.passed("test:host");
        let summary = Summary {
            task: "test:host".into(),
            verdict: Verdict::Passed,
            counts: tasks.total(),
            tasks,
            duration: Duration::from_millis(3),
            image: None,
            image_id: None,
            error: None,
        };
        assert_eq!(
            shown(&[Event::Summary(&summary)]),
            "PASS test:host: 1 passed, 0 failed in 3 ms\n"
        );
    }

    #[test]
    fn a_watch_round_clears_a_terminal_unless_told_not_to_and_heads_the_screen() {
        let round = |terminal, clear| {
            let screen = Screen::default();
            let mut human = Human::to(Box::new(screen.clone()), false, false);
            human.terminal = terminal;
            human.report(&Event::Round {
                task: "test:lists",
                time: "14:03:07",
                trigger: "zones/bl changed",
                clear,
            });
            let bytes = screen.0.lock().expect("screen").clone();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let header = "── devloop watch · test:lists · 14:03:07 · zones/bl changed\n";
        let cleared = round(true, true);
        assert!(cleared.starts_with("\r\x1b[2J\r\x1b[H"), "{cleared:?}");
        assert_eq!(
            console::strip_ansi_codes(&cleared).trim_start_matches('\r'),
            header
        );
        for (terminal, clear) in [(true, false), (false, true), (false, false)] {
            let text = round(terminal, clear);
            assert!(!text.contains("\x1b[2J"), "{terminal} {clear}: {text:?}");
            assert_eq!(console::strip_ansi_codes(&text), header);
        }
    }
}
