//! `devloop construct`: the `[construct]` outputs rendered from the scope files through
//! the templates, a diff stat of what changed, and written unless only checking.

use crate::error::AppError;
use crate::events::{ConstructMode, Construction, Event, ProjectEvent};
use crate::exit;
use crate::settings::Settings;

/// `devloop construct`: render, show, and write unless checking.
pub(crate) fn run(
    settings: &Settings,
    diff: bool,
    check: bool,
    dry_run: bool,
) -> Result<i32, AppError> {
    let config = settings.load_config()?;
    let spec = config.construct.as_ref().ok_or_else(|| {
        AppError::usage(
            "this project has no [construct] table",
            Some("declare scope = \"zones.yaml\" and outputs = [{ template = \"...\", output = \"...\" }]".into()),
        )
    })?;
    let construction = Construction {
        outputs: crate::construct::render(&config.root, spec)?,
        diff,
        mode: if check {
            ConstructMode::Check
        } else if dry_run {
            ConstructMode::DryRun
        } else {
            ConstructMode::Write
        },
    };
    settings.report(Event::Project(&ProjectEvent::Constructed(
        construction.clone(),
    )))?;
    if construction.failed() {
        return Ok(exit::CHECK_FAILED);
    }
    if construction.mode == ConstructMode::Write {
        crate::construct::write(&config.root, &construction.outputs)?;
    }
    Ok(exit::PASSED)
}
