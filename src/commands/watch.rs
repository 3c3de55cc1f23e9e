//! `devloop watch`: rerun a task on every save, for a tmux pane. The container stays warm
//! between runs: a change to the data is applied by the service's reload action, a change
//! to `devloop.toml` or the Dockerfile (or a new image), a directory of the tree removed
//! or replaced, or the project directory replaced whole, starts a fresh container. A
//! reload is trusted only as far as the service goes on answering: a round after it in
//! which names it answered before fail is not reported, but run again in a fresh one.
//!
//! Runs never overlap. Changes that arrive during a run are collected and make one more
//! run after it, once the files have been quiet for the debounce time (at most a second
//! after the first of them): a burst of saves is a run per second of saving at most, and
//! the last run always follows the last save (unless `[watch] on_busy = "do-nothing"`
//! drops them).
//!
//! What to do is decided in `policy`, from what watch sees; this module looks (files,
//! the engine) and does (reload, restart, report).

mod dirs;
mod filter;
mod policy;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dirs::Directories;
use notify::Watcher;
use tokio::sync::mpsc;

use crate::config::{self, Config, ReloadSpec};
use crate::error::AppError;
use crate::events::{Event, Reporters};
use crate::exit;
use crate::plan::{self, Plan};
use crate::run::{Replies, Round, RunOptions, Running, Session, finish_round, run_round};
use crate::runtime::Registry;
use crate::settings::Settings;
use crate::signal::Cancel;

use super::Prepared;
use super::task::{check_report_path, prompt};
pub(crate) use filter::{Change, Filter};
use policy::{AfterReload, Apply, Judged, Reloaded, Why};

/// What `devloop watch` was asked to do.
pub(crate) struct WatchJob {
    pub config_path: PathBuf,
    pub task: String,
    /// The task's arguments as `name=value`, bound once (prompts happen before watching).
    pub args: Vec<String>,
    pub clear: bool,
    pub settings: Settings,
}

/// `devloop watch [TASK] [ARGS]`: the task (default: `[watch] task`, else `test`) and its
/// arguments are settled now, prompts included, before the loop starts.
pub(crate) fn prepare(
    settings: &Settings,
    task: Option<String>,
    given: &[String],
    clear: bool,
) -> Result<Prepared, AppError> {
    check_report_path(settings)?;
    let config = settings.load_config()?;
    let name = task
        .or_else(|| config.watch.task.clone())
        .unwrap_or_else(|| "test".to_owned());
    let found = plan::find_task(&config, &name)?;
    let args = plan::bind_args(found, given, &mut prompt)?;
    // Plan once now so that a mistake is reported before anything starts.
    plan::plan(&config, found, args.clone())?;
    Ok(Prepared::Job(Box::new(super::Job::Watch(WatchJob {
        config_path: config.root.join(config::FILE_NAME),
        task: name,
        args: args.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        clear,
        settings: settings.clone(),
    }))))
}

const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);
/// The longest a stream of changes is waited out before a run starts anyway.
const MAX_SETTLE: Duration = Duration::from_secs(1);
/// How many log lines to show when the service died between runs.
const DEATH_LOG: usize = 15;

/// Where watch's file events go: when each happened, and the path.
type Events = mpsc::UnboundedReceiver<(Instant, PathBuf)>;

pub(crate) async fn watch(
    job: WatchJob,
    registry: Registry,
    cancel: Cancel,
) -> Result<i32, AppError> {
    let mut config = config::load(&job.config_path)?;
    let mut plan = plan_for(&config, &job)?;
    let (tx, mut events) = mpsc::unbounded_channel::<(Instant, PathBuf)>();
    let mut watcher = watch_tree(&config.root, tx.clone())?;
    let mut root = Root::of(&config.root);
    let mut filter = Filter::new(&config);
    let run_options = RunOptions {
        pull: job.settings.run.pull,
        ..RunOptions::default()
    };

    let mut warm = Warm::default();
    let mut next = Some(Pending::start());
    let outcome = loop {
        let Some(pending) = next.take() else {
            break Ok(());
        };
        let mut reporters = job.settings.reporters();
        reporters.emit(Event::Round {
            task: &job.task,
            time: &local_time(),
            trigger: &pending.describe(),
            clear: job.clear,
        });
        let observed = warm.observe().await;
        let known = policy::Known {
            change: pending.change,
            root_replaced: pending.root_replaced,
            service: observed
                .as_ref()
                .map_or(policy::Service::Cold, Observed::service),
            reload: config
                .service
                .as_ref()
                .and_then(|s| s.reload.as_ref())
                .map(|r| r.get_ref().clone()),
        };
        let apply = policy::decide(known);
        if let Apply::Reconfigure { rewatch } = apply {
            if rewatch {
                // The old watches went with the old directory: watch the new one.
                drop(watcher);
                watcher = watch_tree(&config.root, tx.clone())?;
                root = Root::of(&config.root);
            }
            // A broken devloop.toml is shown and waited out, not fatal: the user is
            // in the middle of editing it.
            match config::load(&job.config_path)
                .map_err(AppError::from)
                .and_then(|c| plan_for(&c, &job).map(|p| (c, p)))
            {
                Ok((c, p)) => {
                    config = c;
                    plan = p;
                    filter = Filter::new(&config);
                }
                Err(e) => {
                    eprint!("{}", e.render(console::colors_enabled_stderr()));
                    next =
                        wait_for_change(&mut events, &filter, &config, &root, &cancel, None).await;
                    continue;
                }
            }
        }
        let reloaded = warm.apply(apply, &pending, &mut reporters).await;
        let session = Session {
            config: &config,
            options: &run_options,
            registry: &registry,
            cancel: &cancel,
        };
        // After a reload, the round is shown only once it is known to be trustworthy.
        let judged = policy::judged(reloaded, &warm.replies);
        if judged {
            reporters.hold();
        }
        let mut round = warm.round(session, &plan, &filter, &mut reporters).await;
        if judged {
            let ran = round.error.is_none();
            if let Judged::Rerun(why) = policy::judge(&warm.replies, ran, &round.replies) {
                reporters.discard();
                warm.restart(&why, &mut reporters).await;
                round = warm.round(session, &plan, &filter, &mut reporters).await;
            }
            reporters.release();
        }
        let failed_to_run = round.error.is_some();
        warm.replies = if failed_to_run {
            Replies::new()
        } else {
            std::mem::take(&mut round.replies)
        };
        let image = warm.service.as_ref().map(|s| s.image.clone());
        let interrupted = matches!(round.error, Some(AppError::Interrupted(_)));
        let verdict = finish_round(&mut reporters, &plan, round, image.as_ref());
        let _ = reporters.finish();
        if interrupted {
            break Ok(());
        }
        if let Err(e) = verdict {
            eprint!("{}", e.render(console::colors_enabled_stderr()));
        }
        if failed_to_run {
            // The service could not start or died: start afresh on the next change.
            warm.stop().await;
        }
        // Changes saved during the run are waiting in the channel. Queued, they open the
        // next window of changes, which closes once the files are quiet like any other:
        // a run never follows the last one straight away, so a burst of saves is a few
        // runs.
        let saved_during_run = drain(&mut events, &filter, None);
        let queued = policy::after_run(config.watch.on_busy, saved_during_run);
        next = wait_for_change(&mut events, &filter, &config, &root, &cancel, queued).await;
    };
    drop(watcher);
    if let Some(running) = warm.service {
        // A removal that fails is the registry's to retry and report.
        let _ = running.guard.remove().await;
    }
    outcome.map(|()| cancel.signal().map_or(exit::PASSED, |s| s.exit_code()))
}

/// The warm service between runs, and what watch knows of it.
#[derive(Default)]
struct Warm {
    service: Option<Running>,
    /// When the service last confirmed a reload: a change saved before that is loaded.
    reloaded_at: Option<Instant>,
    /// The work tree's directories as the service's container first saw them.
    directories: Option<Directories>,
    /// How the service met the DNS checks of the last round shown.
    replies: Replies,
}

impl Warm {
    /// One round against the warm service, or a fresh one started for it.
    async fn round(
        &mut self,
        session: Session<'_>,
        plan: &Plan,
        filter: &Filter,
        reporters: &mut Reporters,
    ) -> Round {
        if self.service.is_none() {
            // Before the container exists: a directory replaced while it starts is then
            // taken for replaced (a needless restart later), never the other way round.
            self.directories = Some(Directories::record(&session.config.root, filter));
        }
        let round = run_round(session, plan, reporters, &mut self.service).await;
        if let Some(running) = self.service.as_mut() {
            if running.log.is_none() {
                running.log = Some(running.guard.follow_logs());
            }
        }
        round
    }

    /// Removes the service; the next round starts a fresh one.
    async fn stop(&mut self) {
        if let Some(running) = self.service.take() {
            let _ = running.guard.remove().await;
        }
        self.directories = None;
    }

    /// What the policy needs to know of the warm service; `None` when there is none.
    async fn observe(&self) -> Option<Observed> {
        let running = self.service.as_ref()?;
        Some(Observed {
            exited: running.guard.exit_status().await,
            image_changed: image_changed(running)
                .await
                .then(|| running.image.name.clone()),
            replaced: self
                .directories
                .as_ref()
                .and_then(Directories::replaced)
                .map(Path::to_path_buf),
        })
    }

    /// Does what the policy decided for the round's change (a reconfiguration has read
    /// the config already). Whether the round goes on in the warm container, reloaded.
    async fn apply(
        &mut self,
        apply: Apply<ReloadSpec>,
        pending: &Pending,
        reporters: &mut Reporters,
    ) -> bool {
        let why = match apply {
            Apply::Start => return false,
            Apply::Reconfigure { .. } => {
                self.stop().await;
                return false;
            }
            Apply::Restart(why) => why,
            Apply::Reload(spec) => {
                let reloaded = self.reload(&spec).await;
                if reloaded == Reloaded::Proven {
                    self.reloaded_at = Some(Instant::now());
                }
                match policy::after_reload(reloaded, self.reloaded_at, pending.latest) {
                    AfterReload::Keep => return true,
                    AfterReload::Restart(why) => why,
                }
            }
        };
        self.restart(&why, reporters).await;
        false
    }

    /// Tells why (when it is worth telling) and removes the service; the next round
    /// starts a fresh one.
    async fn restart(&mut self, why: &Why, reporters: &mut Reporters) {
        if let Some(mut message) = why.note() {
            if let (Why::Exited { .. }, Some(running)) = (why, &self.service) {
                let tail = running.guard.log_tail(DEATH_LOG).await;
                message.push_str(". Its last lines:\n");
                message.push_str(
                    &tail
                        .iter()
                        .map(|l| format!("  | {l}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
            reporters.emit(Event::Note { message });
        }
        self.stop().await;
    }

    /// Sends the reload action and waits for its proof.
    async fn reload(&mut self, spec: &ReloadSpec) -> Reloaded {
        let Some(running) = self.service.as_mut() else {
            return Reloaded::Failed("the service is gone".to_owned());
        };
        let unproven = Reloaded::Unproven {
            within: spec.timeout(),
        };
        let mark = running.log.as_ref().map_or(0, |log| log.len());
        running.log_mark = mark;
        if let Some(signal) = &spec.signal {
            if let Err(e) = running.guard.signal(signal).await {
                return Reloaded::Failed(AppError::from(e).to_string());
            }
        } else if let Some(command) = &spec.exec {
            match running.guard.exec(command, &[], spec.timeout()).await {
                Ok(out) if out.status == 0 => {}
                Ok(_) => return unproven,
                Err(e) => return Reloaded::Failed(AppError::from(e).to_string()),
            }
        }
        match (&spec.log, &running.log) {
            (Some(pattern), Some(log)) if !log.wait_for(&pattern.0, mark, spec.timeout()).await => {
                unproven
            }
            _ => Reloaded::Proven,
        }
    }
}

/// What watch saw of the warm service just now, for the policy.
struct Observed {
    exited: Option<i64>,
    /// The image's name, when it stands for another image now.
    image_changed: Option<String>,
    replaced: Option<PathBuf>,
}

impl Observed {
    fn service(&self) -> policy::Service<'_> {
        policy::Service::Warm(policy::Health {
            exited: self.exited,
            image_changed: self.image_changed.as_deref(),
            replaced: self.replaced.as_deref(),
        })
    }
}

async fn image_changed(running: &Running) -> bool {
    match crate::runtime::image_facts(&running.engine, &running.image.name).await {
        Ok(Some(now)) => now.id != running.image.id,
        Ok(None) | Err(_) => false,
    }
}

/// Watches the whole project; every event that can change a file goes to `tx`.
fn watch_tree(
    root: &Path,
    tx: mpsc::UnboundedSender<(Instant, PathBuf)>,
) -> Result<notify::RecommendedWatcher, AppError> {
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if changes_content(&event.kind) => {
                let at = Instant::now();
                for path in event.paths {
                    let _ = tx.send((at, path));
                }
            }
            _ => {}
        })
        .map_err(|e| watch_error(root, e))?;
    watcher
        .watch(root, notify::RecursiveMode::Recursive)
        .map_err(|e| watch_error(root, e))?;
    Ok(watcher)
}

/// The project directory, by identity: when it (or a directory above it) is replaced,
/// nothing in the new one sends an event, so watch looks now and then.
struct Root {
    path: PathBuf,
    was: Option<dirs::Identity>,
}

/// How often watch looks whether the project directory was replaced, while idle.
const ROOT_CHECK: Duration = Duration::from_secs(1);

impl Root {
    fn of(path: &Path) -> Root {
        Root {
            path: path.to_path_buf(),
            was: dirs::identity(path),
        }
    }

    /// Whether another directory is at the project's path now (not while there is none).
    fn replaced(&self) -> bool {
        dirs::identity(&self.path).is_some_and(|now| Some(now) != self.was)
    }
}

/// Whether an event can have changed what a file holds. Reading a file is an event too
/// (the service itself reads the mounted files on every reload); it must not trigger a run.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(kind)) => !matches!(kind, MetadataKind::AccessTime),
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

fn watch_error(root: &Path, e: notify::Error) -> AppError {
    AppError::Io {
        action: format!("watching {}", root.display()),
        source: std::io::Error::other(e.to_string()),
    }
}

fn plan_for(config: &Config, job: &WatchJob) -> Result<Plan, AppError> {
    let task = plan::find_task(config, &job.task)?;
    let args = plan::bind_args(task, &job.args, &mut |_| None)?;
    Ok(plan::plan(config, task, args)?)
}

/// A change waiting for its run.
pub(crate) struct Pending {
    change: Change,
    path: Option<PathBuf>,
    /// The project directory was replaced: watch the new one.
    root_replaced: bool,
    /// When the first event of it happened: a stream of changes is waited out from here
    /// for at most MAX_SETTLE.
    first: Instant,
    /// When the last event of it happened.
    latest: Instant,
}

impl Pending {
    fn start() -> Pending {
        let now = Instant::now();
        Pending {
            change: Change::Restart,
            path: None,
            root_replaced: false,
            first: now,
            latest: now,
        }
    }

    fn root_replaced() -> Pending {
        Pending {
            change: Change::Reconfigure,
            root_replaced: true,
            ..Pending::start()
        }
    }

    fn describe(&self) -> String {
        if self.root_replaced {
            return "the project directory was replaced".to_owned();
        }
        match &self.path {
            Some(path) => format!("{} changed", path.display()),
            None => "start".to_owned(),
        }
    }

    /// Adds an event: the strongest change decides; among equals, a file that still
    /// exists names it (the real file, not an editor's temporary one renamed over it).
    fn add(
        pending: Option<Pending>,
        change: Change,
        path: PathBuf,
        at: Instant,
        filter: &Filter,
    ) -> Pending {
        match pending {
            None => Pending {
                change,
                path: Some(path),
                root_replaced: false,
                first: at,
                latest: at,
            },
            Some(mut p) => {
                let named_better = match &p.path {
                    None => true,
                    Some(old) => {
                        change > p.change
                            || (change == p.change && !filter.exists(old) && filter.exists(&path))
                    }
                };
                if named_better {
                    p.path = Some(path);
                }
                p.change = p.change.max(change);
                p.first = p.first.min(at);
                p.latest = p.latest.max(at);
                p
            }
        }
    }
}

/// Takes every change already queued.
fn drain(events: &mut Events, filter: &Filter, mut pending: Option<Pending>) -> Option<Pending> {
    while let Ok((at, path)) = events.try_recv() {
        if let Some((change, relative)) = filter.classify(&path) {
            pending = Some(Pending::add(pending, change, relative, at, filter));
        }
    }
    pending
}

/// Waits for the first relevant change (unless `pending` already holds some), then until
/// the files have been quiet for the debounce time (one save can be several events; quick
/// saves are one run), at most MAX_SETTLE after the first change. A project directory
/// replaced meanwhile is a change of its own. `None` when the run is cancelled.
async fn wait_for_change(
    events: &mut Events,
    filter: &Filter,
    config: &Config,
    root: &Root,
    cancel: &Cancel,
    mut pending: Option<Pending>,
) -> Option<Pending> {
    let debounce = config.watch.debounce.map_or(DEFAULT_DEBOUNCE, |d| d.0);
    let mut look_at_root = Instant::now() + ROOT_CHECK;
    while pending.is_none() {
        let event = cancel
            .guard(tokio::time::timeout_at(look_at_root.into(), events.recv()))
            .await
            .ok()?;
        match event {
            Ok(Some((at, path))) => {
                if let Some((change, relative)) = filter.classify(&path) {
                    pending = Some(Pending::add(None, change, relative, at, filter));
                }
            }
            Ok(None) => return None,
            Err(_) => {}
        }
        if pending.is_none() && Instant::now() >= look_at_root {
            if root.replaced() {
                return Some(Pending::root_replaced());
            }
            look_at_root = Instant::now() + ROOT_CHECK;
        }
    }
    loop {
        let until = pending.as_ref().map(|p| {
            crate::deadline::after(p.latest, debounce)
                .min(crate::deadline::after(p.first, MAX_SETTLE))
        })?;
        if Instant::now() >= until {
            return pending;
        }
        cancel
            .guard(tokio::time::sleep_until(until.into()))
            .await
            .ok()?;
        pending = drain(events, filter, pending);
    }
}

/// The local wall-clock time as HH:MM:SS.
fn local_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let Ok(seconds) = libc::time_t::try_from(now) else {
        return String::new();
    };
    // SAFETY: localtime_r writes only into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            return String::new();
        }
        tm
    };
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}
