//! How a devloop run ended ([`Outcome`]), with chainable assertions that fail the test at
//! the test's own line and print the command line, exit status and output.

use std::process::ExitStatus;
use std::time::Duration;

/// How a devloop run ended, with chainable assertions that print everything on failure.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The command line, as one can paste it into a shell.
    pub(super) line: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "$ {}", self.line)?;
        writeln!(f, "status: {:?} after {:?}", self.status, self.elapsed)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}---", self.stderr)
    }
}

impl Outcome {
    /// stdout and stderr together, for what may be on either.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "expected exit status {expected}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout should contain {text:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stdout.contains(text),
            "stdout should not contain {text:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr should contain {text:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn output_has(&self, text: &str) -> &Self {
        assert!(
            self.output().contains(text),
            "the output should contain {text:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn output_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.output().contains(text),
            "the output should not contain {text:?}\n{self}"
        );
        self
    }

    /// A line of stdout that starts with `start`, e.g. a check's line.
    #[track_caller]
    pub fn stdout_line(&self, start: &str) -> &str {
        match self.stdout.lines().find(|l| l.starts_with(start)) {
            Some(line) => line,
            None => panic!("no line of stdout starts with {start:?}\n{self}"),
        }
    }

    /// Asserts that the human report shows the check passing.
    #[track_caller]
    pub fn passed(&self, check: &str) -> &Self {
        let line = format!("✓ {check} (");
        assert!(
            self.stdout.lines().any(|l| l.starts_with(&line)),
            "the check {check:?} should pass\n{self}"
        );
        self
    }

    /// Asserts that the human report shows the check failing; the lines that explain it.
    #[track_caller]
    pub fn failed(&self, check: &str) -> String {
        let line = format!("✗ {check} (");
        let mut lines = self.stdout.lines().skip_while(|l| !l.starts_with(&line));
        assert!(
            lines.next().is_some(),
            "the check {check:?} should fail\n{self}"
        );
        lines
            .take_while(|l| l.starts_with(' '))
            .map(|l| format!("{}\n", l.trim()))
            .collect()
    }

    #[track_caller]
    pub fn within(&self, limit: Duration) -> &Self {
        assert!(
            self.elapsed <= limit,
            "expected devloop to end within {limit:?}\n{self}"
        );
        self
    }
}
