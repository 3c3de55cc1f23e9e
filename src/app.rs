//! From the command line to an exit code. Everything that needs no engine (config, plan,
//! prompts, `list`) happens first, synchronously; what needs the engine runs under a
//! supervisor that turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a clean teardown.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;
use tokio::signal::unix::{Signal as UnixSignal, SignalKind, signal};

use crate::cli::{Cli, Command, HookAction, Options, TargetArgs, TaskLine};
use crate::config::{self, ArgSpec, Config};
use crate::error::{AppError, Signal};
use crate::events::{Reporters, Verdict};
use crate::exit;
use crate::plan::{self, Plan};
use crate::report::{Human, Json, Junit};
use crate::run::{Cancel, RunOptions, Session, run_plan, start_service};
use crate::runtime::{Engine, Registry};
use crate::staged::StagedTree;

/// Work that needs the Docker engine, prepared and ready to go.
enum Job {
    Task {
        config: Box<Config>,
        plan: Plan,
        options: Options,
        /// The exported index a `--staged` run tests; removed when the job is dropped.
        staged: Option<StagedTree>,
    },
    Clean {
        all: bool,
    },
    Shell {
        config: Box<Config>,
        command: Vec<String>,
        options: Options,
    },
    Watch(crate::watch::WatchJob),
    Build(Box<crate::build::BuildJob>),
    Inspect(crate::inspect::InspectJob),
    /// `validate` or `update`, on one host or a fleet.
    Lifecycle(crate::fleet::LifecycleJob),
}

/// What the synchronous stage leaves to do.
enum Prepared {
    /// Answered without the engine (`list`, `construct`), with this exit code.
    Done(i32),
    Job(Job),
}

/// How long a run may take to stop after a signal before what it waits for is cut short;
/// the teardown follows either way.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            };
        }
    };
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    let job = match prepare(cli) {
        Ok(Prepared::Job(job)) => job,
        Ok(Prepared::Done(code)) => return code,
        Err(e) => return report_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return report_error(&AppError::Io {
                action: "starting the async runtime".into(),
                source: e,
            });
        }
    };
    runtime.block_on(supervise(job))
}

fn report_error(e: &AppError) -> i32 {
    let color = console::colors_enabled_stderr();
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(e.render(color).as_bytes());
    e.exit_code()
}

/// Parses, loads and plans; `list` is answered here. Prompts for missing arguments happen
/// here too, before any signal handler exists, so Ctrl-C at a prompt simply quits.
fn prepare(cli: Cli) -> Result<Prepared, AppError> {
    let options = cli.options;
    let task_run = matches!(
        cli.command,
        None | Some(Command::Run { .. } | Command::Task(_) | Command::Hook { .. })
    );
    if options.staged && !task_run {
        return Err(AppError::usage(
            "--staged applies to task runs",
            Some("devloop TASK --staged".into()),
        ));
    }
    if options.image_from.is_some() && !task_run {
        return Err(AppError::usage(
            "--image-from applies to task runs",
            Some("devloop TASK --image-from [HOST:]CONTAINER".into()),
        ));
    }
    match cli.command {
        Some(Command::Build {
            build_args,
            tags,
            no_cache,
            cause,
            host,
        }) => {
            let args = crate::build::BuildArgs {
                build_args,
                tags,
                no_cache,
                cause,
                host,
            };
            let job = crate::build::prepare(&load(&options)?, args, options)?;
            Ok(Prepared::Job(Job::Build(Box::new(job))))
        }
        Some(Command::Inspect { target, kind, host }) => {
            Ok(Prepared::Job(Job::Inspect(crate::inspect::InspectJob {
                target,
                kind: kind.map(Into::into),
                host: host.unwrap_or_else(crate::runtime::default_host),
                options,
            })))
        }
        Some(Command::Validate(args)) => {
            prepare_lifecycle(options, crate::lifecycle::Action::Validate, args)
        }
        Some(Command::Update(args)) => {
            prepare_lifecycle(options, crate::lifecycle::Action::Update, args)
        }
        Some(Command::Init {
            template,
            force,
            list,
        }) => crate::init::run(&options, template.as_deref(), force, list).map(Prepared::Done),
        Some(Command::Hook { action }) => match action {
            HookAction::Install { force } => {
                crate::hook::install(&options, force).map(Prepared::Done)
            }
            HookAction::Uninstall => crate::hook::uninstall(&options).map(Prepared::Done),
            HookAction::Run => match crate::hook::decide(&options)? {
                crate::hook::Decision::Skip(message) => {
                    eprintln!("{message}");
                    Ok(Prepared::Done(exit::PASSED))
                }
                crate::hook::Decision::Run(task) => prepare_task(
                    Options {
                        staged: true,
                        ..options
                    },
                    &task,
                    &[],
                ),
            },
        },
        Some(Command::List) => {
            list(&load(&options)?, options.json());
            Ok(Prepared::Done(exit::PASSED))
        }
        Some(Command::Construct {
            diff,
            check,
            dry_run,
        }) => construct(&load(&options)?, diff, check, dry_run).map(Prepared::Done),
        Some(Command::Clean { all }) => Ok(Prepared::Job(Job::Clean { all })),
        Some(Command::Watch {
            task,
            args,
            no_clear,
        }) => prepare_watch(options, task, &args, !no_clear),
        Some(Command::Shell { command }) => Ok(Prepared::Job(Job::Shell {
            config: Box::new(load(&options)?),
            command,
            options,
        })),
        Some(Command::Run { task, args }) => prepare_task(options, &task, &args),
        Some(Command::Task(words)) => {
            let Some((task, rest)) = words.split_first() else {
                return Err(AppError::usage("no task given", None));
            };
            let line = TaskLine::try_parse_from(
                std::iter::once(format!("devloop {task}")).chain(rest.iter().cloned()),
            )
            .map_err(|e| {
                if !e.use_stderr() {
                    let _ = e.print();
                    std::process::exit(exit::PASSED);
                }
                AppError::usage(
                    e.to_string()
                        .trim_start_matches("error: ")
                        .trim()
                        .to_owned(),
                    None,
                )
            })?;
            prepare_task(options.merge(line.options), task, &line.args)
        }
        None => {
            let config = load(&options)?;
            if config.tasks.contains_key("default") {
                return prepare_task(options, "default", &[]);
            }
            list(&config, options.json());
            Err(AppError::usage(
                "no task given",
                Some("devloop TASK [ARGS]; see devloop --help".into()),
            ))
        }
    }
}

fn load(options: &Options) -> Result<Config, AppError> {
    let path = match &options.file {
        Some(file) => file.clone(),
        None => {
            let start = match &options.directory {
                Some(dir) => dir.clone(),
                None => std::env::current_dir().map_err(|source| AppError::Io {
                    action: "reading the current directory".into(),
                    source,
                })?,
            };
            config::find(&start)?
        }
    };
    Ok(config::load(&path)?)
}

/// `validate` / `update`: a devloop.toml is optional; its [fleet] gives the defaults.
fn prepare_lifecycle(
    options: Options,
    action: crate::lifecycle::Action,
    args: TargetArgs,
) -> Result<Prepared, AppError> {
    let config = match load(&options) {
        Ok(config) => Some(config),
        Err(AppError::Config(config::ConfigError::NotFound { .. })) => None,
        Err(e) => return Err(e),
    };
    let fleet = config.as_ref().map(|c| &c.fleet);
    let job = crate::fleet::prepare(action, args.into(), fleet, options)?;
    Ok(Prepared::Job(Job::Lifecycle(job)))
}

fn prepare_task(options: Options, name: &str, given: &[String]) -> Result<Prepared, AppError> {
    check_report_path(&options)?;
    let (config, staged) = if options.staged {
        let staged = crate::staged::load(&options)?;
        (staged.config, Some(staged.tree))
    } else {
        (load(&options)?, None)
    };
    let task = plan::find_task(&config, name)?;
    let args = plan::bind_args(task, given, &mut prompt)?;
    let plan = plan::plan(&config, task, args)?;
    Ok(Prepared::Job(Job::Task {
        config: Box::new(config),
        plan,
        options,
        staged,
    }))
}

/// `devloop watch [TASK] [ARGS]`: the task (default: `[watch] task`, else `test`) and its
/// arguments are settled now, prompts included, before the loop starts.
fn prepare_watch(
    options: Options,
    task: Option<String>,
    given: &[String],
    clear: bool,
) -> Result<Prepared, AppError> {
    check_report_path(&options)?;
    let config = load(&options)?;
    let name = task
        .or_else(|| config.watch.task.clone())
        .unwrap_or_else(|| "test".to_owned());
    let found = plan::find_task(&config, &name)?;
    let args = plan::bind_args(found, given, &mut prompt)?;
    // Plan once now so that a mistake is reported before anything starts.
    plan::plan(&config, found, args.clone())?;
    Ok(Prepared::Job(Job::Watch(crate::watch::WatchJob {
        config_path: config.root.join(config::FILE_NAME),
        task: name,
        args: args.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        clear,
        options,
    })))
}

/// Makes sure the `--junit` report can be written where asked before anything starts, so
/// that a mistyped directory costs nothing rather than a whole run: the path is not a
/// directory, and its directory exists and takes a new file (tried, and removed again).
fn check_report_path(options: &Options) -> Result<(), AppError> {
    let Some(path) = &options.junit else {
        return Ok(());
    };
    let unusable = |why: String| {
        AppError::usage(
            format!("cannot write the JUnit report to {}: {why}", path.display()),
            Some("give --junit a file in a directory that exists and that you can write".into()),
        )
    };
    if path.is_dir() {
        return Err(unusable("it is a directory".into()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unusable(format!(
                "the directory {} does not exist",
                dir.display()
            )));
        }
        Err(e) => return Err(unusable(format!("{}: {e}", dir.display()))),
        Ok(meta) if !meta.is_dir() => {
            return Err(unusable(format!("{} is not a directory", dir.display())));
        }
        Ok(_) => {}
    }
    let probe = dir.join(format!(".devloop-junit-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(unusable(format!(
            "no file can be created in {}: {e}",
            dir.display()
        ))),
    }
}

/// `devloop construct`: render, show, and write unless checking.
fn construct(config: &Config, diff: bool, check: bool, dry_run: bool) -> Result<i32, AppError> {
    let spec = config.construct.as_ref().ok_or_else(|| {
        AppError::usage(
            "this project has no [construct] table",
            Some("declare scope = \"zones.yaml\" and outputs = [{ template = \"...\", output = \"...\" }]".into()),
        )
    })?;
    let rendered = crate::construct::render(&config.root, spec)?;
    let mut out = std::io::stdout().lock();
    for item in &rendered {
        let _ = writeln!(out, "Rendering {} ... using {}", item.output, item.template);
    }
    let stat = crate::construct::diff_stat(&rendered);
    let _ = write!(out, "{stat}");
    if diff {
        let _ = write!(out, "{}", crate::construct::unified_diff(&rendered));
    }
    let stale: Vec<&str> = rendered
        .iter()
        .filter(|r| r.changed())
        .map(|r| r.output.as_str())
        .collect();
    if stale.is_empty() {
        let _ = writeln!(out, "everything is up to date");
        return Ok(exit::PASSED);
    }
    if check {
        let _ = writeln!(
            out,
            "out of date: {} (run devloop construct to update)",
            stale.join(", ")
        );
        return Ok(exit::CHECK_FAILED);
    }
    if !dry_run {
        crate::construct::write(&config.root, &rendered)?;
    }
    Ok(exit::PASSED)
}

/// Asks for a missing argument when a person is there to answer.
fn prompt(arg: &ArgSpec) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let question = arg.prompt.clone().unwrap_or_else(|| arg.name.clone());
    let default = arg
        .default
        .as_ref()
        .map(|d| format!(" [{d}]"))
        .unwrap_or_default();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}{default}: ");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_owned())
}

fn list(config: &Config, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        for task in config.tasks.values() {
            let args: Vec<&str> = task.args.iter().map(|a| a.name.as_str()).collect();
            let deps: Vec<&str> = task.deps.iter().map(|d| d.get_ref().as_str()).collect();
            let line = serde_json::json!({
                "event": "task", "name": task.name, "description": task.description,
                "args": args, "deps": deps,
            });
            let _ = writeln!(out, "{line}");
        }
        return;
    }
    let usage: Vec<(String, &str)> = config
        .tasks
        .values()
        .map(|task| {
            let mut usage = task.name.clone();
            for arg in &task.args {
                usage.push_str(&format!(" {}", arg.name.to_uppercase()));
            }
            (usage, task.description.as_deref().unwrap_or(""))
        })
        .collect();
    let width = usage.iter().map(|(u, _)| u.len()).max().unwrap_or(0);
    for (usage, description) in usage {
        let _ = writeln!(out, "devloop {usage:width$}  # {description}");
    }
}

/// The signals that end a run: a terminal's Ctrl-C (SIGINT) and Ctrl-\\ (SIGQUIT), a
/// closed terminal, tmux pane or ssh session (SIGHUP), a supervisor (SIGTERM). Once
/// installed, the handlers stay for the life of the process: a signal never kills devloop
/// half-way through its teardown.
struct Signals {
    hup: UnixSignal,
    int: UnixSignal,
    quit: UnixSignal,
    term: UnixSignal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.hup.recv() => Signal::Hup,
            _ = self.int.recv() => Signal::Int,
            _ = self.quit.recv() => Signal::Quit,
            _ = self.term.recv() => Signal::Term,
        }
    }
}

/// Runs the job. The first signal asks it to stop (it tears down what it started and
/// returns); if it has not within the grace period, or on a second signal, what it is
/// waiting for is cut short. Then the teardown, which nothing interrupts: the host steps'
/// processes end, and every container of the run is removed (removals already under way
/// are waited for).
async fn supervise(job: Job) -> i32 {
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(source) => {
            return report_error(&AppError::Io {
                action: "installing the signal handlers".into(),
                source,
            });
        }
    };
    let registry = Registry::default();
    let (cancel_tx, cancel) = Cancel::new();
    let mut work = tokio::spawn(execute(job, registry.clone(), cancel));
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
            result = &mut work => break result,
            signal = signals.next() => {
                if received.is_none() {
                    received = Some(signal);
                    cut_short_at = Some(crate::deadline::after_tokio(
                        tokio::time::Instant::now(),
                        GRACE,
                    ));
                    let _ = cancel_tx.send(Some(signal));
                } else if !hurried {
                    hurried = true;
                    let _ = writeln!(
                        std::io::stderr(),
                        "devloop: {signal} again: not waiting any longer; removing the run's containers"
                    );
                    // Removals are tasks of their own and the registry keeps every
                    // container until its removal is confirmed: cutting the run short
                    // here loses none of them.
                    work.abort();
                }
            }
            () = timer => work.abort(),
        }
    };
    let ((), leftovers) = tokio::join!(
        end_host_processes(&mut signals, hurried),
        registry.remove_all()
    );
    let mut code = match (result, received) {
        (Err(join), _) if join.is_panic() => {
            let _ = writeln!(std::io::stderr(), "error: devloop crashed (this is a bug)");
            exit::ENVIRONMENT
        }
        (Ok(Err(AppError::Interrupted(signal))), _) | (Ok(Ok(_)) | Err(_), Some(signal)) => {
            let removed = if leftovers.is_empty() {
                "; the run's containers were removed"
            } else {
                ""
            };
            let _ = writeln!(std::io::stderr(), "error: interrupted by {signal}{removed}");
            signal.exit_code()
        }
        (Ok(Err(e)), _) => report_error(&e),
        (Ok(Ok(code)), None) => code,
        (Err(_), None) => exit::ENVIRONMENT,
    };
    for leftover in &leftovers {
        let _ = writeln!(
            std::io::stderr(),
            "error: container {} on {} could not be removed: {}\nhelp: the next devloop run on that engine removes it, or devloop clean",
            leftover.name,
            leftover.host,
            leftover.reason
        );
        code = exit::ENVIRONMENT;
    }
    code
}

/// Ends what host steps left running: SIGTERM, then SIGKILL after the grace period, or at
/// once when the user has signalled twice.
async fn end_host_processes(signals: &mut Signals, hurried: bool) {
    if hurried {
        return crate::host_process::end_all(std::time::Duration::ZERO).await;
    }
    tokio::select! {
        () = crate::host_process::end_all(crate::host_process::GRACE) => {}
        _ = signals.next() => crate::host_process::end_all(std::time::Duration::ZERO).await,
    }
}

async fn execute(job: Job, registry: Registry, cancel: Cancel) -> Result<i32, AppError> {
    match job {
        Job::Task {
            mut config,
            plan,
            options,
            staged: _staged_tree,
        } => {
            let mut reporters = reporters(&options);
            if let Some(spec) = &options.image_from {
                cancel
                    .guard(crate::parity::pin_image(&mut config, spec, &mut reporters))
                    .await
                    .map_err(AppError::Interrupted)??;
            }
            let run_options = RunOptions {
                keep: options.keep,
                fail_fast: options.fail_fast,
                pull: options.pull.map(Into::into),
            };
            let session = Session {
                config: &config,
                options: &run_options,
                registry: &registry,
                cancel: &cancel,
            };
            let verdict = run_plan(session, &plan, &mut reporters).await;
            reporters.finish().map_err(|source| AppError::Io {
                action: "writing the reports".into(),
                source,
            })?;
            Ok(match verdict? {
                Verdict::Passed => exit::PASSED,
                _ => exit::CHECK_FAILED,
            })
        }
        Job::Watch(job) => crate::watch::watch(job, registry, cancel).await,
        Job::Build(job) => crate::build::execute(*job, &cancel).await,
        Job::Inspect(job) => crate::inspect::execute(job, &cancel).await,
        Job::Lifecycle(job) => crate::fleet::execute(job, &cancel).await,
        Job::Clean { all } => {
            let engine = Engine::connect().await?;
            let swept = crate::runtime::clean(&engine, all).await?;
            for container in &swept {
                println!(
                    "removed {} (project {}: {})",
                    container.name, container.project, container.why
                );
            }
            if swept.is_empty() {
                println!("nothing to clean");
            }
            Ok(exit::PASSED)
        }
        Job::Shell {
            config,
            command,
            options,
        } => {
            let Some(service) = &config.service else {
                return Err(AppError::usage(
                    "this project declares no [service] to open a shell in",
                    None,
                ));
            };
            let mut reporters = reporters(&Options {
                format: None,
                junit: None,
                ..options.clone()
            });
            let run_options = RunOptions {
                pull: options.pull.map(Into::into),
                ..RunOptions::default()
            };
            let session = Session {
                config: &config,
                options: &run_options,
                registry: &registry,
                cancel: &cancel,
            };
            let running = start_service(session, service, "shell", &mut reporters).await?;
            let status = crate::shell::attach(&running, &command).await;
            // A removal that fails is the registry's to retry and report.
            let _ = running.guard.remove().await;
            Ok(i32::try_from(status?).unwrap_or(exit::ENVIRONMENT))
        }
    }
}

pub(crate) fn reporters(options: &Options) -> Reporters {
    let mut reporters = Reporters::default();
    if options.json() {
        reporters.add(Box::new(Json::new(std::io::stdout())));
    } else {
        reporters.add(Box::new(Human::new(options.verbose)));
    }
    if let Some(path) = &options.junit {
        reporters.add(Box::new(Junit::new(PathBuf::from(path))));
    }
    reporters
}
