//! The terminal view of the project's commands: `list`, `init`, `construct`, `hook` and
//! `clean`, each a few plain lines on stdout.

use std::io::Write;

use super::Human;
use crate::events::{ConstructMode, Construction, ProjectEvent};

impl Human {
    pub(super) fn project(&mut self, event: &ProjectEvent) {
        match event {
            ProjectEvent::Tasks(tasks) => {
                let usage: Vec<(String, &str)> = tasks
                    .iter()
                    .map(|task| {
                        let mut usage = task.name.clone();
                        for arg in &task.args {
                            usage.push(' ');
                            usage.push_str(&arg.to_uppercase());
                        }
                        (usage, task.description.as_deref().unwrap_or(""))
                    })
                    .collect();
                let width = usage.iter().map(|(u, _)| u.len()).max().unwrap_or(0);
                for (usage, description) in usage {
                    self.line(format!("devloop {usage:width$}  # {description}"));
                }
            }
            ProjectEvent::Templates(templates) => {
                let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
                for t in *templates {
                    self.line(format!("{:width$}  {}", t.name, t.description));
                }
            }
            ProjectEvent::Initialized(init) => {
                self.line(match &init.guessed {
                    Some(why) => format!(
                        "wrote {} from the {} template ({why}; choose another with --template, see --list)",
                        init.path, init.template
                    ),
                    None => format!("wrote {} from the {} template", init.path, init.template),
                });
                self.line(
                    "next: set the image and the checks in it, then devloop list, devloop test, and\n\
                     devloop hook install to test what is staged before every commit",
                );
            }
            ProjectEvent::Constructed(construction) => self.constructed(construction),
            ProjectEvent::HookInstalled(installed) => {
                if let Some(kept) = &installed.kept {
                    self.line(format!("kept the previous hook as {kept}"));
                }
                self.line(format!(
                    "installed {}: every commit now runs `devloop {}` on what is staged\n\
                     (skip it once with git commit --no-verify; remove it with devloop hook uninstall)",
                    installed.hook, installed.task
                ));
            }
            ProjectEvent::HookRemoved(removed) => {
                self.line(format!("removed {}", removed.hook));
                if let Some(backup) = &removed.restored {
                    self.line(format!("restored the previous hook from {backup}"));
                }
            }
            ProjectEvent::Cleaned(removed) => {
                for container in removed {
                    self.line(format!(
                        "removed {} (project {}: {})",
                        container.name, container.project, container.why
                    ));
                }
                if removed.is_empty() {
                    self.line("nothing to clean");
                }
            }
        }
    }

    /// Each output and its template, git's diff stat (and the diff), then whether
    /// anything is out of date.
    fn constructed(&mut self, construction: &Construction) {
        for item in &construction.outputs {
            self.line(format!(
                "Rendering {} ... using {}",
                item.output, item.template
            ));
        }
        let outputs = &construction.outputs;
        let _ = write!(self.out, "{}", crate::construct::diff_stat(outputs));
        if construction.diff {
            let _ = write!(self.out, "{}", crate::construct::unified_diff(outputs));
        }
        let stale = construction.stale();
        if stale.is_empty() {
            self.line("everything is up to date");
        } else if construction.mode == ConstructMode::Check {
            self.line(format!(
                "out of date: {} (run devloop construct to update)",
                stale.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::screens;
    use crate::events::{Event, HookInstalled, ProjectEvent, TaskEntry};

    fn shown(event: ProjectEvent) -> String {
        let (out, err) = screens(&[Event::Project(&event)], false);
        assert_eq!(err, "", "the project's commands say nothing on stderr");
        out
    }

    #[test]
    fn tasks_are_listed_with_their_arguments_in_one_column() {
        let task = |name: &str, args: &[&str], description: Option<&str>| TaskEntry {
            name: name.into(),
            description: description.map(str::to_owned),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            deps: Vec::new(),
        };
        let text = shown(ProjectEvent::Tasks(vec![
            task("test", &[], Some("everything")),
            task("test:host", &["host"], Some("one host")),
            task("bare", &[], None),
        ]));
        assert_eq!(
            text,
            "devloop test            # everything\n\
             devloop test:host HOST  # one host\n\
             devloop bare            # \n"
        );
    }

    #[test]
    fn a_forced_install_says_where_the_previous_hook_is_kept() {
        let text = shown(ProjectEvent::HookInstalled(HookInstalled {
            hook: ".git/hooks/pre-commit".into(),
            task: "test".into(),
            kept: Some(".git/hooks/pre-commit.before-devloop".into()),
        }));
        assert!(
            text.starts_with(
                "kept the previous hook as .git/hooks/pre-commit.before-devloop\n\
                 installed .git/hooks/pre-commit: every commit now runs `devloop test` on what is staged\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_clean_that_removes_nothing_says_so() {
        assert_eq!(
            shown(ProjectEvent::Cleaned(Vec::new())),
            "nothing to clean\n"
        );
    }
}
