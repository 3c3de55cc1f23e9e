//! `devloop clean`: the containers of killed runs and those kept by `--keep` (with
//! `--all`, also those of runs still going), on the default engine.

use crate::error::AppError;
use crate::events::{Event, ProjectEvent};
use crate::exit;
use crate::runtime::Engine;
use crate::settings::Settings;

pub(crate) async fn execute(all: bool, settings: &Settings) -> Result<i32, AppError> {
    let engine = Engine::connect().await?;
    let swept = crate::runtime::clean(&engine, all).await?;
    settings.report(Event::Project(&ProjectEvent::Cleaned(swept)))?;
    Ok(exit::PASSED)
}
