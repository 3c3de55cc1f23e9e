//! What `devloop watch` decides between runs, as pure functions of what it knows (after
//! watchexec's `OnBusyUpdate` and its supervisor's `Control`): how a change is applied to
//! the warm service, whether a reload is trusted, whether a round after a reload is
//! shown, and what changes saved during a run make. No I/O and no clock here: watch
//! gathers the facts, asks, and does what it is told.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Change;
use crate::config::OnBusy;
use crate::events::Reply;
use crate::run::Replies;

/// What watch knows before a round. `A` is the service's reload action, when one is
/// declared (`[service] reload`).
pub(crate) struct Known<'a, A> {
    /// The strongest change among those the round is for.
    pub change: Change,
    /// The project directory was replaced whole: the old watches went with it.
    pub root_replaced: bool,
    pub service: Service<'a>,
    pub reload: Option<A>,
}

/// The service between two rounds.
pub(crate) enum Service<'a> {
    /// No container: the first round, or the last one could not run.
    Cold,
    /// The container of the last round, and what watch saw of it just now.
    Warm(Health<'a>),
}

/// What watch sees of the warm service before it decides.
#[derive(Default)]
pub(crate) struct Health<'a> {
    /// Its exit status, when the service has exited.
    pub exited: Option<i64>,
    /// Its image's name, when that name stands for another image now.
    pub image_changed: Option<&'a str>,
    /// A directory of the work tree removed or replaced since the container started
    /// (relative to the project; the project directory itself is the empty path).
    pub replaced: Option<&'a Path>,
}

/// How a round's change is applied to the service.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Apply<A> {
    /// Read `devloop.toml` again and plan again, then start a fresh container; first
    /// watch the new project directory when it was replaced. A config that does not load
    /// is shown and waited out, and the warm service is kept meanwhile.
    Reconfigure { rewatch: bool },
    /// No service is warm: the round starts one.
    Start,
    /// Remove the warm service; the round starts a fresh one.
    Restart(Why),
    /// Send the reload action to the warm service and wait for its proof.
    Reload(A),
}

/// Why a warm service is replaced by a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// The Dockerfile changed: the image's recipe.
    Recipe,
    /// The service declares no reload action: every change is a fresh container.
    NoReload,
    /// The service had exited, with this status.
    Exited { status: i64 },
    /// The image's name stands for another image now.
    ImageChanged { image: String },
    /// A directory of the tree was removed or replaced (relative to the project).
    DirectoryReplaced(PathBuf),
    /// The reload's proof did not come within this time.
    ReloadUnproven { within: Duration },
    /// The reload action could not be sent (or run).
    ReloadFailed(String),
    /// After a reload, the service failed these names (with how) it answered before.
    AnswersLost(Vec<(String, Reply)>),
}

impl Why {
    /// What watch tells the user about it. A restart the user asked for by what they
    /// saved (a Dockerfile, data of a service without a reload action) goes without
    /// saying.
    pub(crate) fn note(&self) -> Option<String> {
        Some(match self {
            Why::Recipe | Why::NoReload => return None,
            Why::Exited { status } => {
                format!("the service had exited (status {status}); starting it again")
            }
            Why::ImageChanged { image } => {
                format!("image {image} changed; starting a fresh container")
            }
            Why::DirectoryReplaced(relative) => format!(
                "{} was removed or replaced, and the service may hold the old one; \
                 starting a fresh container",
                super::dirs::describe(relative)
            ),
            Why::ReloadUnproven { within } => {
                format!(
                    "the reload did not take effect within {within:?}; starting a fresh container"
                )
            }
            Why::ReloadFailed(reason) => {
                format!("reload failed ({reason}); starting a fresh container")
            }
            Why::AnswersLost(lost) => format!(
                "after the reload the service failed {} it answered before ({}); \
                 starting a fresh container and running again",
                plural(lost.len(), "question"),
                describe_lost(lost)
            ),
        })
    }
}

/// How a change is applied: `devloop.toml` or the project directory first (everything
/// is read again), then a cold service (there is nothing to keep), then the Dockerfile
/// (the recipe of what runs), then what can make a warm service unfit for a reload, in
/// the order it is looked at: dead, another image, a directory it may hold gone. Only a
/// data change to a live, current service with a reload action is a reload.
pub(crate) fn decide<A>(known: Known<'_, A>) -> Apply<A> {
    if known.change == Change::Reconfigure || known.root_replaced {
        return Apply::Reconfigure {
            rewatch: known.root_replaced,
        };
    }
    let Service::Warm(health) = known.service else {
        return Apply::Start;
    };
    let why = if known.change == Change::Restart {
        Why::Recipe
    } else if let Some(status) = health.exited {
        Why::Exited { status }
    } else if let Some(image) = health.image_changed {
        Why::ImageChanged {
            image: image.to_owned(),
        }
    } else if let Some(relative) = health.replaced {
        Why::DirectoryReplaced(relative.to_path_buf())
    } else if let Some(action) = known.reload {
        return Apply::Reload(action);
    } else {
        Why::NoReload
    };
    Apply::Restart(why)
}

/// How a reload went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reloaded {
    /// The service showed it took the change: its log line came (or, with no line to
    /// wait for, the action was delivered).
    Proven,
    /// No proof within this time (or the reload command failed).
    Unproven { within: Duration },
    /// The action could not be sent.
    Failed(String),
}

/// What a reload leaves.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterReload {
    /// The round runs in the warm container.
    Keep,
    Restart(Why),
}

/// Whether the warm service is kept after its reload. `last_proof` is when it last proved
/// a reload, `latest` when the round's last change was saved: a daemon with nothing new
/// to read says nothing, and a change saved during the last run may have been read by
/// that run's reload already.
pub(crate) fn after_reload(
    reloaded: Reloaded,
    last_proof: Option<Instant>,
    latest: Instant,
) -> AfterReload {
    match reloaded {
        Reloaded::Proven => AfterReload::Keep,
        Reloaded::Unproven { .. } if last_proof.is_some_and(|at| latest < at) => AfterReload::Keep,
        Reloaded::Unproven { within } => AfterReload::Restart(Why::ReloadUnproven { within }),
        Reloaded::Failed(reason) => AfterReload::Restart(Why::ReloadFailed(reason)),
    }
}

/// Whether a round is judged before it is shown: after a reload, when the service
/// answered something in the round shown before (else it has nothing to lose).
pub(crate) fn judged(reloaded: bool, before: &Replies) -> bool {
    reloaded && before.values().any(|r| *r == Reply::Answered)
}

/// The verdict on a judged round.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Show it.
    Report,
    /// Drop it, and run again in a fresh container.
    Rerun(Why),
}

/// A judged round is shown unless the service fails names it answered before the reload:
/// then it did not take the change cleanly (it may hold a deleted directory, or have read
/// a file half-written), and its verdict says nothing about the files. A round that could
/// not run is shown as it is: its error is the news.
pub(crate) fn judge(before: &Replies, ran: bool, after: &Replies) -> Judged {
    let lost = lost_answers(before, after);
    if !ran || lost.is_empty() {
        return Judged::Report;
    }
    Judged::Rerun(Why::AnswersLost(
        lost.into_iter()
            .map(|((_, name), reply)| (name.clone(), reply))
            .collect(),
    ))
}

/// What the changes saved during a run make, by `[watch] on_busy`: with `queue`, they open
/// the next window of changes; with `do-nothing`, they are dropped.
pub(crate) fn after_run<P>(on_busy: OnBusy, saved_during_run: Option<P>) -> Option<P> {
    match on_busy {
        OnBusy::Queue => saved_during_run,
        OnBusy::DoNothing => None,
    }
}

/// The DNS checks the service answered in `before` and fails in `after`.
fn lost_answers<'a>(before: &Replies, after: &'a Replies) -> Vec<(&'a (String, String), Reply)> {
    after
        .iter()
        .filter(|(check, reply)| {
            **reply != Reply::Answered && before.get(*check) == Some(&Reply::Answered)
        })
        .map(|(check, reply)| (check, *reply))
        .collect()
}

/// The first few lost answers, for a note.
fn describe_lost(lost: &[(String, Reply)]) -> String {
    const SHOWN: usize = 3;
    let mut text = lost
        .iter()
        .take(SHOWN)
        .map(|(name, reply)| {
            let got = match reply {
                Reply::Refused => "SERVFAIL or REFUSED",
                Reply::Silent | Reply::Answered => "no answer",
            };
            format!("{name}: {got}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    if lost.len() > SHOWN {
        text.push_str(&format!("; {} more", lost.len() - SHOWN));
    }
    text
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUP: &str = "HUP";

    fn known(
        change: Change,
        service: Service<'_>,
        reload: Option<&'static str>,
    ) -> Apply<&'static str> {
        decide(Known {
            change,
            root_replaced: false,
            service,
            reload,
        })
    }

    fn warm() -> Service<'static> {
        Service::Warm(Health::default())
    }

    fn warm_but(health: Health<'static>) -> Service<'static> {
        Service::Warm(health)
    }

    fn dead() -> Health<'static> {
        Health {
            exited: Some(137),
            ..Health::default()
        }
    }

    fn new_image() -> Health<'static> {
        Health {
            image_changed: Some("rbl:latest"),
            ..Health::default()
        }
    }

    fn zones_replaced() -> Health<'static> {
        Health {
            replaced: Some(Path::new("zones")),
            ..Health::default()
        }
    }

    #[test]
    fn a_data_change_reloads_a_live_current_warm_service_that_has_a_reload_action() {
        assert_eq!(known(Change::Reload, warm(), Some(HUP)), Apply::Reload(HUP));
    }

    #[test]
    fn a_data_change_without_a_reload_action_restarts_silently() {
        let apply = known(Change::Reload, warm(), None);
        assert_eq!(apply, Apply::Restart(Why::NoReload));
        assert_eq!(Why::NoReload.note(), None);
    }

    #[test]
    fn a_cold_service_is_started_whatever_the_file_change() {
        for change in [Change::Reload, Change::Restart] {
            assert_eq!(known(change, Service::Cold, Some(HUP)), Apply::Start);
            assert_eq!(known(change, Service::Cold, None), Apply::Start);
        }
    }

    #[test]
    fn a_dockerfile_change_restarts_a_warm_service_silently_however_it_is() {
        for health in [Health::default(), dead(), new_image(), zones_replaced()] {
            assert_eq!(
                known(Change::Restart, warm_but(health), Some(HUP)),
                Apply::Restart(Why::Recipe)
            );
        }
        assert_eq!(Why::Recipe.note(), None);
    }

    #[test]
    fn devloop_toml_reconfigures_cold_or_warm_and_a_replaced_root_is_watched_anew() {
        for service in [Service::Cold, warm(), warm_but(dead())] {
            assert_eq!(
                known(Change::Reconfigure, service, Some(HUP)),
                Apply::Reconfigure { rewatch: false }
            );
        }
        for (change, service) in [
            (Change::Reconfigure, warm()),
            (Change::Reconfigure, Service::Cold),
            (Change::Reload, warm()),
            (Change::Restart, Service::Cold),
        ] {
            let apply = decide(Known {
                change,
                root_replaced: true,
                service,
                reload: Some(HUP),
            });
            assert_eq!(apply, Apply::Reconfigure { rewatch: true });
        }
    }

    #[test]
    fn a_dead_service_is_restarted_before_anything_else_is_looked_at() {
        let all = Health {
            exited: Some(137),
            image_changed: Some("rbl:latest"),
            replaced: Some(Path::new("zones")),
        };
        for reload in [Some(HUP), None] {
            assert_eq!(
                known(Change::Reload, warm_but(dead()), reload),
                Apply::Restart(Why::Exited { status: 137 })
            );
        }
        assert_eq!(
            known(Change::Reload, warm_but(all), Some(HUP)),
            Apply::Restart(Why::Exited { status: 137 })
        );
        assert_eq!(
            Why::Exited { status: 137 }.note().as_deref(),
            Some("the service had exited (status 137); starting it again")
        );
    }

    #[test]
    fn a_new_image_restarts_before_a_replaced_directory_is_looked_at() {
        let both = Health {
            image_changed: Some("rbl:latest"),
            replaced: Some(Path::new("zones")),
            ..Health::default()
        };
        let why = Why::ImageChanged {
            image: "rbl:latest".into(),
        };
        assert_eq!(
            known(Change::Reload, warm_but(new_image()), Some(HUP)),
            Apply::Restart(why.clone())
        );
        assert_eq!(
            known(Change::Reload, warm_but(both), None),
            Apply::Restart(why.clone())
        );
        assert_eq!(
            why.note().as_deref(),
            Some("image rbl:latest changed; starting a fresh container")
        );
    }

    #[test]
    fn a_replaced_directory_restarts_even_a_service_without_a_reload_action() {
        for reload in [Some(HUP), None] {
            assert_eq!(
                known(Change::Reload, warm_but(zones_replaced()), reload),
                Apply::Restart(Why::DirectoryReplaced("zones".into()))
            );
        }
        assert_eq!(
            Why::DirectoryReplaced("zones".into()).note().as_deref(),
            Some(
                "zones/ was removed or replaced, and the service may hold the old one; \
                 starting a fresh container"
            )
        );
        assert_eq!(
            Why::DirectoryReplaced(PathBuf::new()).note().as_deref(),
            Some(
                "the project directory was removed or replaced, and the service may hold \
                 the old one; starting a fresh container"
            )
        );
    }

    #[test]
    fn a_proven_reload_keeps_the_service_whenever_the_change_was_saved() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        for last_proof in [None, Some(now), Some(later)] {
            assert_eq!(
                after_reload(Reloaded::Proven, last_proof, now),
                AfterReload::Keep
            );
        }
    }

    #[test]
    fn an_unproven_reload_keeps_the_service_only_when_the_change_was_saved_before_the_last_proof() {
        let saved = Instant::now();
        let within = Duration::from_secs(2);
        let unproven = || Reloaded::Unproven { within };
        // Saved during the last run, before its reload's proof: that reload read it.
        assert_eq!(
            after_reload(unproven(), Some(saved + Duration::from_millis(5)), saved),
            AfterReload::Keep
        );
        let restart = AfterReload::Restart(Why::ReloadUnproven { within });
        // Saved after the last proof (or at the same instant), or never proven at all.
        assert_eq!(
            after_reload(unproven(), Some(saved - Duration::from_millis(5)), saved),
            restart
        );
        assert_eq!(after_reload(unproven(), Some(saved), saved), restart);
        assert_eq!(after_reload(unproven(), None, saved), restart);
        assert_eq!(
            Why::ReloadUnproven { within }.note().as_deref(),
            Some("the reload did not take effect within 2s; starting a fresh container")
        );
    }

    #[test]
    fn a_failed_reload_restarts_even_when_the_change_was_read_already() {
        let saved = Instant::now();
        for last_proof in [None, Some(saved + Duration::from_secs(1))] {
            assert_eq!(
                after_reload(
                    Reloaded::Failed("no such process".into()),
                    last_proof,
                    saved
                ),
                AfterReload::Restart(Why::ReloadFailed("no such process".into()))
            );
        }
        assert_eq!(
            Why::ReloadFailed("no such process".into())
                .note()
                .as_deref(),
            Some("reload failed (no such process); starting a fresh container")
        );
    }

    fn replies(entries: &[(&str, Reply)]) -> Replies {
        entries
            .iter()
            .map(|(name, reply)| (("test:lists".to_owned(), (*name).to_owned()), *reply))
            .collect()
    }

    #[test]
    fn only_a_round_after_a_reload_of_a_service_that_answered_is_judged() {
        let answered = replies(&[("bl", Reply::Answered), ("wl", Reply::Refused)]);
        let never = replies(&[("bl", Reply::Refused), ("wl", Reply::Silent)]);
        assert!(judged(true, &answered));
        assert!(!judged(true, &never));
        assert!(!judged(true, &Replies::new()));
        assert!(!judged(false, &answered));
    }

    #[test]
    fn a_name_answered_before_and_failed_after_the_reload_is_lost_and_the_round_rerun() {
        let before = replies(&[
            ("bl", Reply::Answered),
            ("wl", Reply::Answered),
            ("txt", Reply::Answered),
            ("broken before", Reply::Refused),
        ]);
        let after = replies(&[
            ("bl", Reply::Refused),
            ("wl", Reply::Silent),
            ("txt", Reply::Answered),
            ("broken before", Reply::Refused),
            ("new check", Reply::Refused),
        ]);
        let why = Why::AnswersLost(vec![
            ("bl".into(), Reply::Refused),
            ("wl".into(), Reply::Silent),
        ]);
        assert_eq!(judge(&before, true, &after), Judged::Rerun(why.clone()));
        assert_eq!(
            why.note().as_deref(),
            Some(
                "after the reload the service failed 2 questions it answered before \
                 (bl: SERVFAIL or REFUSED; wl: no answer); starting a fresh container and \
                 running again"
            )
        );
    }

    #[test]
    fn a_round_that_did_not_run_is_reported_whatever_it_lost() {
        let before = replies(&[("bl", Reply::Answered)]);
        let after = replies(&[("bl", Reply::Silent)]);
        assert_eq!(judge(&before, false, &after), Judged::Report);
    }

    #[test]
    fn an_answer_that_changed_is_no_lost_answer() {
        // NXDOMAIN where there was an address is the daemon answering: the change itself.
        let before = replies(&[("bl", Reply::Answered)]);
        assert_eq!(judge(&before, true, &before.clone()), Judged::Report);
        let after = replies(&[("bl", Reply::Refused)]);
        assert_eq!(judge(&Replies::new(), true, &after), Judged::Report);
    }

    #[test]
    fn a_lost_answer_note_names_three_and_counts_the_rest() {
        let lost: Vec<(String, Reply)> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| ((*n).to_owned(), Reply::Refused))
            .collect();
        assert_eq!(
            describe_lost(&lost),
            "a: SERVFAIL or REFUSED; b: SERVFAIL or REFUSED; c: SERVFAIL or REFUSED; 2 more"
        );
        assert_eq!(
            Why::AnswersLost(lost[..1].to_vec()).note().as_deref(),
            Some(
                "after the reload the service failed 1 question it answered before \
                 (a: SERVFAIL or REFUSED); starting a fresh container and running again"
            )
        );
    }

    #[test]
    fn changes_saved_during_a_run_make_one_more_run_when_queued_and_none_when_not() {
        assert_eq!(after_run(OnBusy::Queue, Some("zones/bl")), Some("zones/bl"));
        assert_eq!(after_run(OnBusy::Queue, None::<&str>), None);
        assert_eq!(after_run(OnBusy::DoNothing, Some("zones/bl")), None);
        assert_eq!(after_run(OnBusy::DoNothing, None::<&str>), None);
    }
}
