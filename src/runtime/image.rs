//! Making sure the service image is there, by the pull policy, and reading what it declares.

use std::collections::HashMap;

use bollard::query_parameters::CreateImageOptionsBuilder;

use super::{CALL_DEADLINE, Engine, RuntimeError};
use crate::config::PullPolicy;

/// What a run needs to know of its image.
#[derive(Debug, Clone)]
pub(crate) struct ImageInfo {
    pub name: String,
    pub id: String,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
}

impl ImageInfo {
    /// The command of a lifecycle method (START, UPDATE, VALIDATE, ...): the image's
    /// `<METHOD>_METHOD` environment variable, or its `devloop.method.<method>` label.
    pub(crate) fn method(&self, method: &str) -> Option<String> {
        crate::metadata::method(&self.env, &self.labels, method)
    }
}

/// Returns the image, pulling it first as the policy says.
pub(crate) async fn ensure_image(
    engine: &Engine,
    image: &str,
    policy: PullPolicy,
    on_pull: &mut (dyn FnMut(String) + Send),
) -> Result<ImageInfo, RuntimeError> {
    if policy == PullPolicy::Always {
        pull(engine, image, on_pull).await?;
    }
    let action = format!("inspecting image {image}");
    let inspect = || engine.answer(&action, CALL_DEADLINE, engine.docker.inspect_image(image));
    match inspect().await? {
        Ok(found) => Ok(info(image, found)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) if policy == PullPolicy::Missing => {
            pull(engine, image, on_pull).await?;
            let found = inspect().await?.map_err(|e| RuntimeError::ImageMissing {
                image: image.to_owned(),
                reason: super::api_error("inspecting it after the pull", e).to_string(),
            })?;
            Ok(info(image, found))
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(RuntimeError::ImageMissing {
            image: image.to_owned(),
            reason: "not on this engine, and the pull policy is \"never\"".into(),
        }),
        Err(e) => Err(super::api_error(action, e)),
    }
}

fn info(name: &str, inspect: bollard::models::ImageInspect) -> ImageInfo {
    let config = inspect.config.unwrap_or_default();
    ImageInfo {
        name: name.to_owned(),
        id: inspect.id.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
    }
}

async fn pull(
    engine: &Engine,
    image: &str,
    on_pull: &mut (dyn FnMut(String) + Send),
) -> Result<(), RuntimeError> {
    on_pull(format!("pulling {image}"));
    let (name, tag) = split_reference(image);
    let options = CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let mut progress = engine.docker.create_image(Some(options), None, None);
    let action = format!("pulling {image}");
    while let Some(item) = engine.next(&action, &mut progress).await? {
        match item {
            Ok(info) => {
                if let Some(status) = info.status {
                    on_pull(format!("pulling {image}: {status}"));
                }
            }
            Err(e) => {
                return Err(RuntimeError::ImageMissing {
                    image: image.to_owned(),
                    reason: format!("pull failed: {}", super::answer_text(e)),
                });
            }
        }
    }
    Ok(())
}

/// `registry:5000/ns/name:tag` -> (`registry:5000/ns/name`, `tag`); digests stay whole.
pub(super) fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_port() {
        assert_eq!(split_reference("debian:bookworm"), ("debian", "bookworm"));
        assert_eq!(
            split_reference("reg:5000/ops/rbl"),
            ("reg:5000/ops/rbl", "latest")
        );
        assert_eq!(
            split_reference("reg:5000/ops/rbl:prod"),
            ("reg:5000/ops/rbl", "prod")
        );
    }

    #[test]
    fn methods_come_from_env_then_labels() {
        let image = ImageInfo {
            name: "x".into(),
            id: "sha256:1".into(),
            env: vec!["VALIDATE_METHOD=/service/bin/validate".into()],
            labels: HashMap::from([("devloop.method.update".into(), "/service/bin/update".into())]),
        };
        assert_eq!(
            image.method("validate").as_deref(),
            Some("/service/bin/validate")
        );
        assert_eq!(
            image.method("UPDATE").as_deref(),
            Some("/service/bin/update")
        );
        assert_eq!(image.method("start"), None);
    }
}
