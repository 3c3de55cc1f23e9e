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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ContainerView, ImageView, Inspection};

    #[test]
    fn an_inspection_is_the_container_then_each_image_named_first() {
        let container = ContainerView {
            host: "unix:///run/docker.sock".into(),
            name: "rbl".into(),
            id: "c0ffee".into(),
            status: "running".into(),
            running: true,
            started_at: None,
            image: "rbl:latest".into(),
            image_id: "sha256:1".into(),
            image_digests: Vec::new(),
            image_now: None,
            methods: Vec::new(),
        };
        let image = ImageView {
            present: true,
            id: Some("sha256:1".into()),
            tags: vec!["rbl:latest".into()],
            ..ImageView::absent(0, "rbl:latest", "the container's image")
        };
        let shown = lines(&ImageEvent::Inspected(Inspection {
            container: Some(container),
            chain: vec![image],
        }));
        assert_eq!(shown.len(), 2);
        assert!(
            shown[0].starts_with(
                r#"{"event":"container","host":"unix:///run/docker.sock","name":"rbl""#
            ),
            "{}",
            shown[0]
        );
        assert!(!shown[0].contains("image_now"), "{}", shown[0]);
        assert!(
            shown[1].starts_with(r#"{"event":"image","depth":0,"reference":"rbl:latest""#),
            "{}",
            shown[1]
        );
    }

    #[test]
    fn the_build_log_keeps_its_stream() {
        let line = lines(&ImageEvent::BuildLog(BuildProgress::Status(
            "pulling".into(),
        )));
        assert_eq!(
            line,
            [r#"{"event":"build_log","line":"pulling","stream":"status"}"#]
        );
    }
}
