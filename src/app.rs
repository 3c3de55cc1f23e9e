//! From the command line to an exit code: parse (`cli`), resolve once (`settings`), pick
//! the command, and supervise what needs the engine. Everything that needs no engine
//! (config, plan, prompts, `list`) happens first, synchronously; the rest runs under a
//! supervisor that turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a clean teardown.

use std::io::Write;

use clap::Parser;

use crate::cli::{self, Cli, Command, HookAction, TaskLine};
use crate::commands::{self, Job, Prepared, fleet, hook, image};
use crate::error::AppError;
use crate::events::Event;
use crate::exit;
use crate::runtime::Registry;
use crate::settings::Settings;
use crate::signal::{self, Signals};

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
        Ok(Prepared::Job(job)) => *job,
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

/// Picks the command and prepares it. Prompts for missing arguments happen here, before
/// any signal handler exists, so Ctrl-C at a prompt simply quits.
fn prepare(cli: Cli) -> Result<Prepared, AppError> {
    let task_run = matches!(
        cli.command,
        None | Some(Command::Run { .. } | Command::Task(_) | Command::Hook { .. })
    );
    if cli.options.staged && !task_run {
        return Err(AppError::usage(
            "--staged applies to task runs",
            Some("devloop TASK --staged".into()),
        ));
    }
    if cli.options.image_from.is_some() && !task_run {
        return Err(AppError::usage(
            "--image-from applies to task runs",
            Some("devloop TASK --image-from [HOST:]CONTAINER".into()),
        ));
    }
    let Some(command) = cli.command else {
        return commands::task::prepare_default(&Settings::new(cli.options)?);
    };
    match command {
        // Options written after a task's name belong with it: parse them before settling.
        Command::Task(words) => {
            let Some((task, rest)) = words.split_first() else {
                return Err(AppError::usage("no task given", None));
            };
            let line = parse_task_line(task, rest)?;
            let settings = Settings::new(cli.options.merge(line.options))?;
            commands::task::prepare(&settings, task, &line.args)
        }
        command => prepare_command(command, Settings::new(cli.options)?),
    }
}

/// Every command but a task named by itself (which `prepare` settles with the options
/// written after it).
fn prepare_command(command: Command, settings: Settings) -> Result<Prepared, AppError> {
    let job = |job: Job| Ok(Prepared::Job(Box::new(job)));
    match command {
        Command::Task(_) => Err(AppError::usage("no task given", None)),
        Command::List => commands::task::list_tasks(&settings).map(Prepared::Done),
        Command::Run { task, args } => commands::task::prepare(&settings, &task, &args),
        Command::Clean { all } => job(Job::Clean { all, settings }),
        Command::Watch {
            task,
            args,
            no_clear,
        } => commands::watch::prepare(&settings, task, &args, !no_clear),
        Command::Construct {
            diff,
            check,
            dry_run,
        } => commands::construct::run(&settings, diff, check, dry_run).map(Prepared::Done),
        Command::Shell { command } => {
            job(Job::Shell(commands::shell::prepare(&settings, command)?))
        }
        Command::Init {
            template,
            force,
            list,
        } => commands::init::run(&settings, template.as_deref(), force, list).map(Prepared::Done),
        Command::Hook { action } => match action {
            HookAction::Install { force } => hook::install(&settings, force).map(Prepared::Done),
            HookAction::Uninstall => hook::uninstall(&settings).map(Prepared::Done),
            HookAction::Run => match hook::decide(&settings)? {
                hook::Decision::Skip(message) => {
                    settings.report(Event::Note { message })?;
                    Ok(Prepared::Done(exit::PASSED))
                }
                hook::Decision::Run(task) => {
                    let staged = Settings {
                        staged: true,
                        ..settings
                    };
                    commands::task::prepare(&staged, &task, &[])
                }
            },
        },
        Command::Build {
            build_args,
            tags,
            no_cache,
            cause,
            host,
        } => {
            let args = image::BuildArgs {
                build_args,
                tags,
                no_cache,
                cause,
                host,
            };
            let prepared = image::build::prepare(&settings.load_config()?, args, &settings)?;
            job(Job::Build(prepared))
        }
        Command::Inspect { target, kind, host } => job(Job::Inspect(image::InspectJob {
            target,
            kind: kind.map(|kind| match kind {
                cli::InspectKind::Image => image::InspectKind::Image,
                cli::InspectKind::Container => image::InspectKind::Container,
            }),
            host: host.unwrap_or_else(crate::runtime::default_host),
            settings,
        })),
        Command::Validate(args) => prepare_lifecycle(&settings, fleet::Action::Validate, args),
        Command::Update(args) => prepare_lifecycle(&settings, fleet::Action::Update, args),
    }
}

/// What follows a task's name: its arguments, and options written after it.
fn parse_task_line(task: &str, rest: &[String]) -> Result<TaskLine, AppError> {
    TaskLine::try_parse_from(std::iter::once(format!("devloop {task}")).chain(rest.iter().cloned()))
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
        })
}

fn prepare_lifecycle(
    settings: &Settings,
    action: fleet::Action,
    args: cli::TargetArgs,
) -> Result<Prepared, AppError> {
    let targets = fleet::TargetArgs {
        container: args.container,
        all: args.all,
        labels: args.labels,
        hosts: args.hosts,
        batch: args.batch.map(|b| b as usize),
    };
    let job = fleet::prepare(settings, action, targets)?;
    Ok(Prepared::Job(Box::new(Job::Lifecycle(job))))
}

/// Runs the job under the supervisor, then the teardown, which nothing interrupts: the
/// host steps' processes end, and every container of the run is removed (removals already
/// under way are waited for).
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
    let work_registry = registry.clone();
    let done = signal::supervise(&mut signals, move |cancel| {
        commands::execute(job, work_registry, cancel)
    })
    .await;
    let ((), leftovers) = tokio::join!(
        end_host_processes(&mut signals, done.hurried),
        registry.remove_all()
    );
    let mut code = match (done.result, done.signal) {
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
