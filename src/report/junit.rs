//! `--junit FILE`: the run as JUnit XML, one test suite per task (prerequisites first),
//! written when the run ends, for CI systems that draw test results. A build is a suite
//! `build` of one case, a rollout a suite named for its action with a case per container;
//! the other commands test nothing, and write no report.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::events::{
    CheckOutcome, Event, FleetEvent, FleetReport, ImageEvent, MethodStatus, Reporter, RowState,
    Skip, Summary,
};

pub(crate) struct Junit {
    path: PathBuf,
    cases: Vec<Case>,
    summary: Option<Summary>,
}

/// One `<testcase>`: a step that ran, or one that did not.
enum Case {
    Ran(CheckOutcome),
    Skipped(Skip),
}

impl Case {
    fn task(&self) -> &str {
        match self {
            Case::Ran(check) => &check.task,
            Case::Skipped(skip) => &skip.task,
        }
    }

    fn failed(&self) -> bool {
        matches!(self, Case::Ran(check) if !check.passed)
    }

    fn duration(&self) -> Duration {
        match self {
            Case::Ran(check) => check.duration,
            Case::Skipped(_) => Duration::ZERO,
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

impl Junit {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            cases: Vec::new(),
            summary: None,
        }
    }

    /// The tasks, in the order the run reported them: the summary's, then any other a case
    /// names.
    fn tasks(&self) -> Vec<&str> {
        let mut tasks: Vec<&str> = self
            .summary
            .iter()
            .flat_map(|s| s.tasks.iter().map(|(task, _)| task))
            .collect();
        for case in &self.cases {
            if !tasks.contains(&case.task()) {
                tasks.push(case.task());
            }
        }
        if tasks.is_empty() {
            tasks.push(self.summary.as_ref().map_or("devloop", |s| s.task.as_str()));
        }
        tasks
    }

    fn render(&self) -> String {
        let task = self.summary.as_ref().map_or("devloop", |s| s.task.as_str());
        let error = self.summary.as_ref().and_then(|s| s.error.as_ref());
        let failures = self.cases.iter().filter(|c| c.failed()).count();
        let skipped = self
            .cases
            .iter()
            .filter(|c| matches!(c, Case::Skipped(_)))
            .count();
        // A run's own clock; a command without one took as long as its cases.
        let total = self.summary.as_ref().map_or_else(
            || self.cases.iter().map(Case::duration).sum(),
            |s| s.duration,
        );
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"devloop\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{}\">",
            self.cases.len() + usize::from(error.is_some()),
            usize::from(error.is_some()),
            seconds(total)
        );
        for suite in self.tasks() {
            let cases: Vec<&Case> = self.cases.iter().filter(|c| c.task() == suite).collect();
            // The run's own error belongs to the task that was asked for.
            let error = error.filter(|_| suite == task);
            let _ = writeln!(
                xml,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
                escape(suite),
                cases.len() + usize::from(error.is_some()),
                cases.iter().filter(|c| c.failed()).count(),
                usize::from(error.is_some()),
                cases
                    .iter()
                    .filter(|c| matches!(c, Case::Skipped(_)))
                    .count(),
                seconds(cases.iter().map(|c| c.duration()).sum())
            );
            self.properties(&mut xml);
            for case in cases {
                match case {
                    Case::Ran(check) => testcase(&mut xml, check),
                    Case::Skipped(skip) => {
                        let _ = writeln!(
                            xml,
                            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                            escape(&skip.task),
                            escape(&skip.name),
                            seconds(Duration::ZERO),
                            escape(&skip.reason)
                        );
                    }
                }
            }
            if let Some(error) = error {
                let _ = writeln!(
                    xml,
                    "    <testcase classname=\"{}\" name=\"run\" time=\"0\">\n      <error message=\"{}\"/>\n    </testcase>",
                    escape(task),
                    escape(error)
                );
            }
            xml.push_str("  </testsuite>\n");
        }
        xml.push_str("</testsuites>\n");
        xml
    }

    fn properties(&self, xml: &mut String) {
        if let Some(image) = self.summary.as_ref().and_then(|s| s.image.as_ref()) {
            let id = self
                .summary
                .as_ref()
                .and_then(|s| s.image_id.clone())
                .unwrap_or_default();
            let _ = writeln!(
                xml,
                "    <properties>\n      <property name=\"image\" value=\"{}\"/>\n      <property name=\"image_id\" value=\"{}\"/>\n    </properties>",
                escape(image),
                escape(&id)
            );
        }
    }
}

fn testcase(xml: &mut String, check: &CheckOutcome) {
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        escape(&check.task),
        escape(&check.name),
        seconds(check.duration)
    );
    if check.passed {
        xml.push_str("/>\n");
        return;
    }
    let mut body = format!("asked: {}\ngot: {}\n", check.asked, check.got);
    if !check.command.is_empty() {
        let _ = writeln!(body, "by hand: {}", check.command);
    }
    for line in &check.log_tail {
        let _ = writeln!(body, "| {line}");
    }
    let _ = write!(
        xml,
        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
        escape(&check.detail),
        escape(&body)
    );
}

/// XML text and attribute escaping; characters XML 1.0 cannot carry are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// A case of a command that is not a task run: the build, a container of a rollout.
fn case(task: &str, name: &str, passed: bool, duration: Duration, detail: String) -> Case {
    Case::Ran(CheckOutcome {
        task: task.to_owned(),
        name: name.to_owned(),
        passed,
        duration,
        detail,
        asked: String::new(),
        got: String::new(),
        command: String::new(),
        log_tail: Vec::new(),
        reply: None,
    })
}

/// Each container of a rollout (each host that had none to show) as a case.
fn rollout_cases(report: &FleetReport) -> impl Iterator<Item = Case> + '_ {
    report.rows.iter().map(|row| {
        let name = if row.container == "-" {
            row.host.clone()
        } else {
            format!("{} on {}", row.container, row.host)
        };
        let mut detail = format!("{}: {}", report.method, row.describe());
        match &row.state {
            RowState::Ran(o) if o.first == MethodStatus::Skipped => Case::Skipped(Skip {
                task: report.action.to_owned(),
                name,
                reason: format!("not run: an earlier {} failed", report.action),
            }),
            RowState::Ran(o) => {
                if let Some(validate) = &o.validate {
                    let _ = write!(detail, "; VALIDATE: {}", validate.describe());
                }
                case(report.action, &name, !o.failed(), o.duration, detail)
            }
            RowState::Unreachable(_) | RowState::Absent => {
                case(report.action, &name, false, Duration::ZERO, detail)
            }
        }
    })
}

impl Reporter for Junit {
    fn report(&mut self, event: &Event<'_>) {
        match event {
            Event::Check(check) => self.cases.push(Case::Ran((*check).clone())),
            Event::Skipped(skip) => self.cases.push(Case::Skipped((*skip).clone())),
            Event::Summary(summary) => self.summary = Some((*summary).clone()),
            Event::Image(ImageEvent::Built(built)) => self.cases.push(case(
                "build",
                &built.image,
                true,
                built.duration,
                format!("built {}", built.image_id),
            )),
            Event::Image(ImageEvent::BuildFailed {
                image,
                error,
                duration,
            }) => self
                .cases
                .push(case("build", image, false, *duration, error.clone())),
            Event::Fleet(FleetEvent::Done(report)) => self.cases.extend(rollout_cases(report)),
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.summary.is_none() && self.cases.is_empty() {
            return Ok(());
        }
        crate::fsutil::write_atomic(&self.path, self.render().as_bytes()).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("the JUnit report {}: {e}", self.path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Tallies, Verdict};

    #[test]
    fn failures_are_escaped_and_counted() {
        let mut junit = Junit::new(PathBuf::from("unused.xml"));
        let check = CheckOutcome {
            task: "test:host".into(),
            name: "white <list>".into(),
            passed: false,
            duration: Duration::from_millis(2),
            detail: "expected NXDOMAIN, got A \"127.0.0.2\"".into(),
            asked: "A x".into(),
            got: "x. 2100 IN A 127.0.0.2".into(),
            command: String::new(),
            log_tail: vec![],
            reply: None,
        };
        junit.report(&Event::Check(&check));
        let quick = CheckOutcome {
            name: "black list".into(),
            passed: true,
            duration: Duration::from_micros(300),
            ..check.clone()
        };
        junit.report(&Event::Check(&quick));
        let mut tasks = Tallies::new(["test:host"]);
        tasks.failed("test:host");
        tasks.passed("test:host");
        junit.report(&Event::Summary(&summary("test:host", tasks, None)));
        let xml = junit.render();
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("name=\"black list\" time=\"0.000300\"/>"),
            "a fraction of a millisecond is not 0: {xml}"
        );
        assert!(xml.contains("name=\"white &lt;list&gt;\""), "{xml}");
        assert!(
            xml.contains("message=\"expected NXDOMAIN, got A &quot;127.0.0.2&quot;\""),
            "{xml}"
        );
    }

    fn summary(task: &str, tasks: Tallies, error: Option<&str>) -> Summary {
        Summary {
            task: task.into(),
            verdict: if error.is_some() {
                Verdict::Error
            } else {
                Verdict::Failed
            },
            counts: tasks.total(),
            tasks,
            duration: Duration::from_millis(400),
            image: Some("img".into()),
            image_id: None,
            error: error.map(str::to_owned),
        }
    }

    fn outcome(task: &str, name: &str, passed: bool) -> CheckOutcome {
        CheckOutcome {
            task: task.into(),
            name: name.into(),
            passed,
            duration: Duration::from_millis(1),
            detail: "detail".into(),
            asked: String::new(),
            got: String::new(),
            command: String::new(),
            log_tail: vec![],
            reply: None,
        }
    }

    /// The `<testsuite ...>` line of a task.
    fn suite_line<'a>(xml: &'a str, task: &str) -> &'a str {
        let start = format!("<testsuite name=\"{task}\" ");
        xml.lines()
            .find(|l| l.trim_start().starts_with(&start))
            .unwrap_or_else(|| panic!("no suite {task}: {xml}"))
    }

    #[test]
    fn each_task_is_a_suite_and_steps_that_did_not_run_are_skipped() {
        let mut junit = Junit::new(PathBuf::from("unused.xml"));
        let mut tasks = Tallies::new(["test:lists", "test"]);
        junit.report(&Event::Check(&outcome("test:lists", "bl", true)));
        tasks.passed("test:lists");
        junit.report(&Event::Check(&outcome("test:lists", "wl", false)));
        tasks.failed("test:lists");
        for name in ["VALIDATE", "service <log>"] {
            junit.report(&Event::Skipped(&Skip {
                task: "test".into(),
                name: name.into(),
                reason: "prerequisite test:lists failed at `wl`".into(),
            }));
            tasks.skipped("test");
        }
        junit.report(&Event::Summary(&summary("test", tasks, None)));
        let xml = junit.render();
        assert!(
            xml.contains(
                "<testsuites name=\"devloop\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"2\""
            ),
            "{xml}"
        );
        assert!(
            suite_line(&xml, "test:lists")
                .contains("tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""),
            "{xml}"
        );
        assert!(
            suite_line(&xml, "test")
                .contains("tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"2\""),
            "{xml}"
        );
        assert!(
            xml.find("name=\"test:lists\"") < xml.find("<testsuite name=\"test\""),
            "prerequisites first: {xml}"
        );
        assert!(
            xml.contains(
                "<testcase classname=\"test\" name=\"service &lt;log&gt;\" time=\"0.000000\">\n      <skipped message=\"prerequisite test:lists failed at `wl`\"/>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn the_runs_error_is_a_case_of_the_task_asked_for() {
        let mut junit = Junit::new(PathBuf::from("unused.xml"));
        let mut tasks = Tallies::new(["test:lists", "test"]);
        junit.report(&Event::Skipped(&Skip {
            task: "test:lists".into(),
            name: "bl".into(),
            reason: "the run stopped: no such image".into(),
        }));
        tasks.skipped("test:lists");
        junit.report(&Event::Summary(&summary(
            "test",
            tasks,
            Some("no such image"),
        )));
        let xml = junit.render();
        assert!(
            suite_line(&xml, "test:lists")
                .contains("tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            suite_line(&xml, "test")
                .contains("tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"no such image\"/>"), "{xml}");
    }

    #[test]
    fn a_rollout_is_a_suite_of_its_containers_and_a_build_a_case() {
        use crate::events::fleet_fixtures::{ran, report, unreachable};
        let mut report = report(
            "validate",
            vec![
                ran("a", MethodStatus::Passed, None),
                ran("b", MethodStatus::Failed(1), None),
                unreachable("c", "no answer"),
            ],
        );
        for row in &mut report.rows {
            if let RowState::Ran(outcome) = &mut row.state {
                outcome.duration = Duration::from_millis(250);
            }
        }
        let mut junit = Junit::new(PathBuf::from("unused.xml"));
        junit.report(&Event::Fleet(&FleetEvent::Done(report)));
        let xml = junit.render();
        assert!(
            suite_line(&xml, "validate").contains(
                "tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"0\" time=\"0.500000\""
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuites name=\"devloop\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"0\" time=\"0.500000\">"),
            "a command without a run's clock took as long as its cases: {xml}"
        );
        assert!(
            xml.contains("name=\"rbl on a\" time=\"0.250000\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"VALIDATE: failed (exit 1)\">"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"c\" time=\"0.000000\">\n      <failure message=\"VALIDATE: unreachable: no answer\">"),
            "{xml}"
        );

        let mut junit = Junit::new(PathBuf::from("unused.xml"));
        junit.report(&Event::Image(&ImageEvent::BuildFailed {
            image: "rbl:latest".into(),
            error: "non-zero code: 7".into(),
            duration: Duration::from_secs(2),
        }));
        let xml = junit.render();
        assert!(
            xml.contains("<testcase classname=\"build\" name=\"rbl:latest\" time=\"2.000000\">\n      <failure message=\"non-zero code: 7\">"),
            "{xml}"
        );
    }

    #[test]
    fn a_command_that_tests_nothing_writes_no_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.xml");
        let mut junit = Junit::new(path.clone());
        let listing = crate::events::ProjectEvent::Tasks(Vec::new());
        junit.report(&Event::Project(&listing));
        junit.finish().expect("finish");
        assert!(!path.exists(), "no report of a listing");
        junit.report(&Event::Summary(&summary("t", Tallies::new(["t"]), None)));
        junit.finish().expect("finish");
        assert!(path.exists(), "a task run's report, even of no steps");
    }
}
