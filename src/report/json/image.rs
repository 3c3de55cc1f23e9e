//! `build` and `inspect` as JSON Lines: `build_log` (one per line of the builder's log),
//! `build` (the verdict), then `container` and `image` (one per image of the ancestry).

use serde_json::json;

use super::{millis, tagged};
use crate::events::ImageEvent;
use crate::runtime::BuildProgress;

pub(super) fn lines(event: &ImageEvent) -> Vec<String> {
    let value = match event {
        ImageEvent::BuildLog(progress) => {
            let (stream, line) = match progress {
                BuildProgress::Log(line) => ("log", line),
                BuildProgress::Status(line) => ("status", line),
            };
            json!({ "event": "build_log", "stream": stream, "line": line })
        }
        ImageEvent::Built(built) => json!({
            "event": "build", "status": "pass", "image": built.image,
            "image_id": built.image_id, "tags": built.tags, "labels": built.labels,
            "warnings": built.warnings, "duration_ms": millis(built.duration),
        }),
        ImageEvent::BuildFailed {
            image,
            error,
            duration,
        } => json!({
            "event": "build", "status": "fail", "image": image, "error": error,
            "duration_ms": millis(*duration),
        }),
        ImageEvent::Inspected(inspection) => {
            let container = inspection.container.iter().map(|c| tagged("container", c));
            let chain = inspection.chain.iter().map(|i| tagged("image", i));
            return container.chain(chain).collect();
        }
    };
    vec![value.to_string()]
}
