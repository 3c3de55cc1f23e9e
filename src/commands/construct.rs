//! `devloop construct`: the `[construct]` outputs rendered from the scope files through
//! the templates, a diff stat of what changed, and written unless only checking.

use std::io::Write;

use crate::error::AppError;
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
