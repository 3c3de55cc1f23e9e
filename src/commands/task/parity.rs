//! Production parity: `--image-from HOST:CONTAINER` runs a task against exactly the image a
//! running container uses on that host, by ID (the digest of its configuration), not by a
//! tag that may have moved since. When the local engine lacks that image it is copied
//! over from the host's engine, so the run never builds or pulls a look-alike.

use crate::config::{Config, PullPolicy};
use crate::error::AppError;
use crate::events::{Event, Reporters};
use crate::runtime::{self, Engine, RuntimeError};

/// `unix:///run/x.sock:rbl` -> (`unix:///run/x.sock`, `rbl`); `rbl` -> (None, `rbl`);
/// `edge:rbl` (a docker context) -> (`edge`, `rbl`). A container name has no colon, so
/// the last one separates.
pub(crate) fn split_spec(spec: &str) -> (Option<&str>, &str) {
    match spec.rsplit_once(':') {
        Some((host, container)) if !host.is_empty() && !host.ends_with("//") => {
            (Some(host), container)
        }
        _ => (None, spec),
    }
}

/// Points the service at the image `spec`'s container runs, copying it to the local
/// engine when needed.
pub(crate) async fn pin_image(
    config: &mut Config,
    spec: &str,
    reporters: &mut Reporters,
) -> Result<(), AppError> {
    let Some(service) = config.service.as_mut() else {
        return Err(AppError::usage(
            "--image-from needs a [service] to run the image as",
            None,
        ));
    };
    let (host, name) = split_spec(spec);
    if name.is_empty() {
        return Err(AppError::usage(
            format!("--image-from {spec}: no container named"),
            Some("write --image-from CONTAINER or --image-from HOST:CONTAINER, e.g. unix:///var/run/docker.sock:rbldnsd".into()),
        ));
    }
    let host = host.map_or_else(runtime::default_host, str::to_owned);
    reporters.emit(Event::Phase {
        message: format!("finding the image of {name} on {host}"),
    });
    let remote = runtime::connect_endpoint(&host).await?;
    let container = runtime::container_facts(&remote, name)
        .await?
        .ok_or_else(|| RuntimeError::NoSuchContainer {
            name: name.to_owned(),
            host: host.clone(),
        })?;
    let id = container.image_id.clone();
    let local = Engine::connect().await?;
    if runtime::image_facts(&local, &id).await?.is_none() {
        reporters.emit(Event::Phase {
            message: format!("copying image {id} from {host}"),
        });
        runtime::copy_image(&remote, &local, &id).await?;
        reporters.emit(Event::Note {
            message: format!("copied image {id} from {host} to the local engine"),
        });
    }
    reporters.emit(Event::Note {
        message: format!(
            "testing the image {name} runs on {host}: {id} ({}{})",
            container.image_ref,
            if container.image_ref == service.image {
                String::new()
            } else {
                format!(", instead of {}", service.image)
            }
        ),
    });
    service.image = id;
    service.pull = PullPolicy::Never;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_colon_separates_host_and_container() {
        assert_eq!(
            split_spec("unix:///run/devloop-engine2/docker.sock:rbl-a"),
            (Some("unix:///run/devloop-engine2/docker.sock"), "rbl-a")
        );
        assert_eq!(
            split_spec("tcp://127.0.0.1:2375:rbl"),
            (Some("tcp://127.0.0.1:2375"), "rbl")
        );
        assert_eq!(split_spec("edge:rbl"), (Some("edge"), "rbl"));
        assert_eq!(split_spec("rbl"), (None, "rbl"));
    }
}
