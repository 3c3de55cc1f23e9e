//! `devloop clean`: the containers of killed runs and those kept by `--keep` (with
//! `--all`, also those of runs still going), on the default engine.

use crate::error::AppError;
use crate::exit;
use crate::runtime::Engine;

pub(crate) async fn execute(all: bool) -> Result<i32, AppError> {
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
