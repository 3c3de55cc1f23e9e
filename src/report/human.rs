//! The terminal report: a spinner while the service starts, one line per check, and on a
//! failure what was asked, what came back and the tail of the container's log.

use std::io::Write;
use std::time::Duration;

use console::{Term, style};
use indicatif::{ProgressBar, ProgressStyle};

use super::millis;
use crate::events::{CheckOutcome, Event, Reporter, Summary, Verdict};

pub(crate) struct Human {
    out: Term,
    spinner: Option<ProgressBar>,
    /// Whether to draw a spinner at all (stderr is a terminal).
    animate: bool,
    /// `-v`: show the equivalent command of every check, and passing details.
    verbose: bool,
    /// The container's log is shown with the first failure only; later ones point back.
    log_shown: bool,
}

impl Human {
    pub(crate) fn new(verbose: bool) -> Self {
        Self {
            out: Term::stdout(),
            spinner: None,
            animate: Term::stderr().is_term(),
            verbose,
            log_shown: false,
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    fn line(&self, text: impl AsRef<str>) {
        // A closed pipe (`devloop ... | head`) is not an error worth a message.
        let _ = writeln!(&self.out, "{}", text.as_ref());
    }

    fn check(&mut self, check: &CheckOutcome) {
        let time = style(format!("({} ms)", millis(check.duration))).dim();
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

    fn summary(&self, summary: &Summary) {
        let time = format_duration(summary.duration);
        let counts = format!("{} passed, {} failed", summary.passed, summary.failed);
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

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

pub(crate) fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{} ms", millis(d))
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
                let spinner = self.spinner.get_or_insert_with(|| {
                    let bar = ProgressBar::new_spinner();
                    bar.set_style(
                        ProgressStyle::with_template("{spinner:.cyan} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.enable_steady_tick(Duration::from_millis(80));
                    bar
                });
                spinner.set_message(message.clone());
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
                            "service {container} ready in {} ms ({})",
                            millis(*elapsed),
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
            Event::Note { message } => {
                self.stop_spinner();
                let _ = writeln!(&Term::stderr(), "{message}");
            }
            Event::Summary(summary) => {
                self.stop_spinner();
                self.summary(summary);
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.stop_spinner();
        Ok(())
    }
}
