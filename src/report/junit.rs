//! `--junit FILE`: one JUnit XML test suite per run, written when the run ends, for CI
//! systems that draw test results.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::events::{CheckOutcome, Event, Reporter, Summary};

pub(crate) struct Junit {
    path: PathBuf,
    checks: Vec<CheckOutcome>,
    summary: Option<Summary>,
}

impl Junit {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            checks: Vec::new(),
            summary: None,
        }
    }

    fn render(&self) -> String {
        let seconds = |d: std::time::Duration| format!("{:.6}", d.as_secs_f64());
        let task = self.summary.as_ref().map_or("devloop", |s| s.task.as_str());
        let failures = self.checks.iter().filter(|c| !c.passed).count();
        let errors = usize::from(self.summary.as_ref().is_some_and(|s| s.error.is_some()));
        let total = self
            .summary
            .as_ref()
            .map(|s| s.duration)
            .unwrap_or_default();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"devloop\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
            self.checks.len(),
            seconds(total)
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
            escape(task),
            self.checks.len(),
            seconds(total)
        );
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
        for check in &self.checks {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape(&check.task),
                escape(&check.name),
                seconds(check.duration)
            );
            if check.passed {
                xml.push_str("/>\n");
                continue;
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
        if let Some(error) = self.summary.as_ref().and_then(|s| s.error.as_ref()) {
            let _ = writeln!(
                xml,
                "    <testcase classname=\"{}\" name=\"run\" time=\"0\">\n      <error message=\"{}\"/>\n    </testcase>",
                escape(task),
                escape(error)
            );
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
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

impl Reporter for Junit {
    fn report(&mut self, event: &Event<'_>) {
        match event {
            Event::Check(check) => self.checks.push((*check).clone()),
            Event::Summary(summary) => self.summary = Some((*summary).clone()),
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        crate::fsutil::write_atomic(&self.path, self.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Verdict;
    use std::time::Duration;

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
        };
        junit.report(&Event::Check(&check));
        let quick = CheckOutcome {
            name: "black list".into(),
            passed: true,
            duration: Duration::from_micros(300),
            ..check.clone()
        };
        junit.report(&Event::Check(&quick));
        junit.report(&Event::Summary(&Summary {
            task: "test:host".into(),
            verdict: Verdict::Failed,
            passed: 0,
            failed: 1,
            duration: Duration::from_millis(400),
            image: Some("img".into()),
            image_id: None,
            error: None,
        }));
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
}
