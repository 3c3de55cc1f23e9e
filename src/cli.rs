//! The command line as typed: parsed by clap, no I/O. `devloop TASK [ARGS]` runs a task
//! from `devloop.toml`; the words below are devloop's own commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "devloop",
    version,
    about = "Test a service's production image against your working tree, and leave nothing behind.",
    after_help = "Run `devloop list` to see the project's tasks, then `devloop TASK [ARGS]`.\n\
                  Exit codes: 0 passed, 1 a check failed, 2 usage or config error, 3 environment failed.",
    disable_help_subcommand = true,
    subcommand_value_name = "TASK|COMMAND",
    subcommand_help_heading = "Commands (any other word is a task from devloop.toml)"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that apply wherever they are written: before or after the task.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct Options {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,
    /// Use this devloop.toml instead of searching upwards for one.
    #[arg(short = 'f', long = "file", value_name = "FILE", global = true)]
    pub file: Option<PathBuf>,
    /// Show the equivalent dig / docker exec command of every check, and more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Output format: human-readable, or JSON Lines (one event per line) on stdout.
    #[arg(long, value_enum, global = true, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE", global = true)]
    pub junit: Option<PathBuf>,
    /// Leave the container running when a check fails, and say how to get into it.
    #[arg(long, global = true)]
    pub keep: bool,
    /// Stop at the first failing check.
    #[arg(long, global = true)]
    pub fail_fast: bool,
    /// When to pull the service image (overrides service.pull).
    #[arg(long, value_enum, global = true, value_name = "POLICY")]
    pub pull: Option<PullArg>,
    /// Test what is staged for the next commit (the git index, exported to a temporary
    /// directory), not the work tree.
    #[arg(long, global = true)]
    pub staged: bool,
    /// Test exactly the image a running container uses: CONTAINER on the default engine,
    /// or HOST:CONTAINER (e.g. unix:///run/other.sock:rbldnsd), resolved to its image ID.
    #[arg(long, global = true, value_name = "[HOST:]CONTAINER")]
    pub image_from: Option<String>,
}

impl Options {
    /// Combines options given before the task with those given after it.
    pub(crate) fn merge(self, later: Options) -> Options {
        Options {
            directory: later.directory.or(self.directory),
            file: later.file.or(self.file),
            verbose: self.verbose || later.verbose,
            format: later.format.or(self.format),
            junit: later.junit.or(self.junit),
            keep: self.keep || later.keep,
            fail_fast: self.fail_fast || later.fail_fast,
            pull: later.pull.or(self.pull),
            staged: self.staged || later.staged,
            image_from: later.image_from.or(self.image_from),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PullArg {
    Missing,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the project's tasks with their arguments and descriptions.
    List,
    /// Run a task (the same as `devloop TASK`; use it for a task named like a command).
    Run { task: String, args: Vec<String> },
    /// Remove containers left by killed runs, and those kept by --keep.
    Clean {
        /// Also remove the containers of runs that are still going.
        #[arg(long)]
        all: bool,
    },
    /// Rerun a task on every save, against a warm container that reloads instead of
    /// restarting (for a tmux pane). Ctrl-C tears everything down.
    Watch {
        /// The task to rerun (default: [watch] task, else `test`).
        task: Option<String>,
        /// The task's arguments.
        args: Vec<String>,
        /// Keep the scrollback: do not clear the screen before each run.
        #[arg(long)]
        no_clear: bool,
    },
    /// Render the [construct] outputs from the scope files through the templates, write
    /// those that changed, and show a diff stat.
    Construct {
        /// Also show the unified diff.
        #[arg(long)]
        diff: bool,
        /// Write nothing; exit 1 when an output is out of date (for CI and hooks).
        #[arg(long)]
        check: bool,
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Start the service container as a task would, and open a shell in it.
    Shell {
        /// The command to run instead of an interactive `sh`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Write a commented devloop.toml for this directory from a built-in template.
    Init {
        /// The template (default: guessed from the files present).
        #[arg(long, short = 't', value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crate::templates::NAMES))]
        template: Option<String>,
        /// Overwrite an existing devloop.toml.
        #[arg(long)]
        force: bool,
        /// List the templates.
        #[arg(long, conflicts_with_all = ["template", "force"])]
        list: bool,
    },
    /// The git pre-commit hook that tests what is staged.
    Hook {
        #[command(subcommand)]
        action: HookAction,
    },
    /// Build the service image ([service] image, [build] context, args, tags, methods),
    /// stamped with build info (OCI labels: time, git revision, source, version, base)
    /// and its lifecycle methods.
    Build {
        /// A build argument NAME=VALUE (repeatable), over [build] args; NAME alone takes
        /// the value from the environment.
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
        /// Another name for the image (repeatable), besides [service] image and [build] tags.
        #[arg(long = "tag", short = 't', value_name = "NAME")]
        tags: Vec<String>,
        /// Build every step again, without the engine's layer cache.
        #[arg(long)]
        no_cache: bool,
        /// Why the image is built, stamped as devloop.build.cause (default: ci under CI,
        /// else manual).
        #[arg(long, value_name = "CAUSE")]
        cause: Option<String>,
        /// The Docker engine to build on (default: DOCKER_HOST).
        #[arg(long, short = 'H', value_name = "HOST")]
        host: Option<String>,
    },
    /// Show an image's or a container's build info and lifecycle methods, and those of
    /// each ancestor image; for a container also its state and the exact image it runs.
    Inspect {
        /// An image (name[:tag], name@digest, ID) or a container (name or ID).
        target: String,
        /// Only look for an image, or only for a container.
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        kind: Option<InspectKind>,
        /// The Docker engine to ask (default: DOCKER_HOST).
        #[arg(long, short = 'H', value_name = "HOST")]
        host: Option<String>,
    },
    /// Run a running container's VALIDATE method (docker exec), on one host or a fleet.
    /// Exit 1 when it fails, 2 when none is declared, 3 when the container is not there.
    Validate(TargetArgs),
    /// Run a running container's UPDATE method, then VALIDATE, on one host or rolling over
    /// a fleet, --batch hosts at a time, stopping at the first failure.
    Update(TargetArgs),
    #[command(external_subcommand)]
    Task(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InspectKind {
    Image,
    Container,
}

/// Which containers `validate` and `update` work on, and where.
#[derive(Debug, Clone, Args)]
pub(crate) struct TargetArgs {
    /// The container, by name or ID (default: [fleet] container).
    pub container: Option<String>,
    /// Every running container that declares the method (devloop's own test containers
    /// excepted).
    #[arg(long, conflicts_with = "container")]
    pub all: bool,
    /// With --all, only containers with this label, KEY or KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY[=VALUE]", requires = "all")]
    pub labels: Vec<String>,
    /// A Docker engine (repeatable): unix:///path, tcp://host:port (TLS with
    /// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), https://, ssh://user@host, or a docker
    /// context name. Default: [fleet] hosts, else DOCKER_HOST.
    #[arg(long = "host", short = 'H', value_name = "HOST")]
    pub hosts: Vec<String>,
    /// How many hosts at a time (default: [fleet] batch, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HookAction {
    /// Write .git/hooks/pre-commit (honours core.hooksPath) to run `devloop hook run`.
    Install {
        /// Replace a pre-commit hook devloop did not write (it is kept beside it).
        #[arg(long)]
        force: bool,
    },
    /// Remove the pre-commit hook devloop wrote, and put back the one it replaced.
    Uninstall,
    /// What the hook runs: the [hook] task (default `test`) with --staged, or nothing
    /// when no staged change touches the [hook] paths.
    Run,
}

/// What follows a task name: its arguments, and options written after it.
#[derive(Debug, Parser)]
#[command(
    name = "devloop TASK",
    disable_help_flag = false,
    disable_version_flag = true
)]
pub(crate) struct TaskLine {
    #[command(flatten)]
    pub options: Options,
    /// The task's arguments, by position or as name=value.
    pub args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_after_the_task_are_parsed() {
        let cli = Cli::try_parse_from([
            "devloop",
            "-v",
            "test:host",
            "sh8.example.com",
            "--format",
            "json",
        ])
        .expect("parse");
        let Some(Command::Task(words)) = cli.command else {
            panic!("expected a task");
        };
        assert_eq!(words[0], "test:host");
        let line = TaskLine::try_parse_from(
            std::iter::once("devloop test:host".to_owned()).chain(words[1..].iter().cloned()),
        )
        .expect("task line");
        let options = cli.options.merge(line.options);
        assert!(options.verbose);
        assert_eq!(options.format, Some(Format::Json));
        assert_eq!(line.args, ["sh8.example.com"]);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        TaskLine::command().debug_assert();
    }
}
