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
