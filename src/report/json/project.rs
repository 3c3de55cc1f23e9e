//! The project's commands as JSON Lines: `task` (one per task of `list`), `template`,
//! `init`, `construct`, `hook` and `removed` (one per container `clean` removed).

use serde_json::json;

use crate::construct::counts;
use crate::events::ProjectEvent;

pub(super) fn lines(event: &ProjectEvent) -> Vec<String> {
    let values = match event {
        ProjectEvent::Tasks(tasks) => tasks
            .iter()
            .map(|task| {
                json!({
                    "event": "task", "name": task.name, "description": task.description,
                    "args": task.args, "deps": task.deps,
                })
            })
            .collect(),
        ProjectEvent::Templates(templates) => templates
            .iter()
            .map(|t| json!({ "event": "template", "name": t.name, "description": t.description }))
            .collect(),
        ProjectEvent::Initialized(init) => vec![json!({
            "event": "init", "path": init.path, "template": init.template,
            "guessed": init.guessed,
        })],
        ProjectEvent::Constructed(construction) => {
            let outputs: Vec<_> = construction
                .outputs
                .iter()
                .map(|item| {
                    let (insertions, deletions) = counts(item);
                    json!({
                        "output": item.output, "template": item.template,
                        "changed": item.changed(), "insertions": insertions,
                        "deletions": deletions,
                    })
                })
                .collect();
            let diff = construction
                .diff
                .then(|| crate::construct::unified_diff(&construction.outputs));
            vec![json!({
                "event": "construct", "mode": construction.mode.word(),
                "status": if construction.failed() { "fail" } else { "pass" },
                "outputs": outputs, "stale": construction.stale(), "diff": diff,
            })]
        }
        ProjectEvent::HookInstalled(installed) => vec![json!({
            "event": "hook", "action": "install", "hook": installed.hook,
            "task": installed.task, "kept": installed.kept,
        })],
        ProjectEvent::HookRemoved(removed) => vec![json!({
            "event": "hook", "action": "uninstall", "hook": removed.hook,
            "restored": removed.restored,
        })],
        ProjectEvent::Cleaned(removed) => removed
            .iter()
            .map(|c| json!({ "event": "removed", "name": c.name, "project": c.project, "why": c.why }))
            .collect(),
    };
    values.into_iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::tests::parsed;
    use super::*;
    use crate::events::{ConstructMode, Construction, TaskEntry};
    use crate::runtime::Swept;

    #[test]
    fn a_listing_is_one_line_per_item() {
        let tasks = parsed(lines(&ProjectEvent::Tasks(vec![TaskEntry {
            name: "test".into(),
            description: None,
            args: vec!["host".into()],
            deps: vec!["test:lists".into()],
        }])));
        assert_eq!(
            tasks,
            [
                json!({ "event": "task", "name": "test", "description": null,
                     "args": ["host"], "deps": ["test:lists"] })
            ]
        );
        let removed = parsed(lines(&ProjectEvent::Cleaned(vec![
            Swept {
                name: "devloop-rbl-1".into(),
                project: "rbl".into(),
                why: "kept",
            },
            Swept {
                name: "devloop-rbl-2".into(),
                project: "rbl".into(),
                why: "orphaned",
            },
        ])));
        assert_eq!(removed.len(), 2);
        assert_eq!(removed[1]["event"], "removed");
        assert_eq!(removed[1]["name"], "devloop-rbl-2");
        assert!(lines(&ProjectEvent::Cleaned(Vec::new())).is_empty());
    }

    #[test]
    fn a_stale_output_fails_only_a_check() {
        let output = crate::construct::Rendered {
            output: "conf/zones".into(),
            template: "zones.j2".into(),
            old: Some("a\nb\n".into()),
            new: "a\nc\nd\n".into(),
            mode: None,
        };
        let construction = |mode| {
            ProjectEvent::Constructed(Construction {
                outputs: vec![output.clone()],
                diff: false,
                mode,
            })
        };
        let check = &parsed(lines(&construction(ConstructMode::Check)))[0];
        assert_eq!(check["event"], "construct");
        assert_eq!(check["status"], "fail");
        assert_eq!(check["stale"], json!(["conf/zones"]));
        assert_eq!(check["outputs"][0]["insertions"], 2);
        assert_eq!(check["outputs"][0]["deletions"], 1);
        assert_eq!(check["diff"], Value::Null);
        let written = &parsed(lines(&construction(ConstructMode::Write)))[0];
        assert_eq!(written["status"], "pass");
        assert_eq!(written["mode"], "write");
    }
}
