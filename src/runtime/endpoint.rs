//! Docker endpoints as an operator names them: `unix:///path`, `tcp://host:port` (TLS when
//! `DOCKER_TLS_VERIFY` is set, with the certificates in `DOCKER_CERT_PATH`), `https://`,
//! `ssh://user@host` (through the `ssh` client), or the name of a `docker context`.
//! Each one is connected with the same short timeout, so a dead host is reported, not
//! waited for.

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::{Engine, RuntimeError};

/// The endpoint used when none is named: `DOCKER_HOST`, else the local socket.
pub(crate) fn default_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// Connects to an endpoint and makes sure the engine answers.
pub(crate) async fn connect_endpoint(endpoint: &str) -> Result<Engine, RuntimeError> {
    if endpoint.contains("://") {
        return Engine::connect_to(endpoint).await;
    }
    if endpoint == "default" {
        return Engine::connect_to(&default_host()).await;
    }
    let context = find_context(&docker_config_dir(), endpoint)?;
    match &context.tls {
        None => Engine::connect_to(&context.host).await,
        Some(tls) => {
            let shown_as = format!("{} (context {endpoint})", context.host);
            let docker = Docker::connect_with_ssl(
                &context.host,
                &tls.join("key.pem"),
                &tls.join("cert.pem"),
                &tls.join("ca.pem"),
                120,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| RuntimeError::Unreachable {
                host: shown_as.clone(),
                reason: e.to_string(),
            })?;
            Engine::answering(docker, &shown_as).await
        }
    }
}

/// A `docker context`: where its engine is, and its TLS material if it has any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Context {
    pub host: String,
    pub tls: Option<PathBuf>,
}

fn docker_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".docker")
}

/// Finds the context `name` in `config_dir/contexts/meta/*/meta.json` (the directory is
/// named after a hash of the name; reading each is simpler than hashing).
pub(crate) fn find_context(config_dir: &Path, name: &str) -> Result<Context, RuntimeError> {
    let not_found = |reason: String| RuntimeError::Unreachable {
        host: name.to_owned(),
        reason,
    };
    let meta_root = config_dir.join("contexts").join("meta");
    let entries = std::fs::read_dir(&meta_root).map_err(|_| {
        not_found(format!(
            "not an endpoint URL (unix://, tcp://, https://, ssh://) and no docker context of that name (no contexts in {})",
            meta_root.display()
        ))
    })?;
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if meta["Name"].as_str() != Some(name) {
            continue;
        }
        let Some(host) = meta["Endpoints"]["docker"]["Host"].as_str() else {
            return Err(not_found("the context has no docker endpoint".into()));
        };
        let tls_dir = config_dir
            .join("contexts")
            .join("tls")
            .join(entry.file_name())
            .join("docker");
        let skip_verify = meta["Endpoints"]["docker"]["SkipTLSVerify"]
            .as_bool()
            .unwrap_or(false);
        let tls = (tls_dir.join("ca.pem").is_file() && !skip_verify).then_some(tls_dir);
        return Ok(Context {
            host: host.to_owned(),
            tls,
        });
    }
    Err(not_found(format!(
        "not an endpoint URL (unix://, tcp://, https://, ssh://) and no docker context of that name in {}",
        meta_root.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_found_by_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = dir.path().join("contexts/meta/abc123");
        std::fs::create_dir_all(&meta).expect("mkdir");
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"edge","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://127.0.0.1:2376","SkipTLSVerify":false}}}"#,
        )
        .expect("write");
        let found = find_context(dir.path(), "edge").expect("found");
        assert_eq!(found.host, "tcp://127.0.0.1:2376");
        assert_eq!(found.tls, None);

        let tls = dir.path().join("contexts/tls/abc123/docker");
        std::fs::create_dir_all(&tls).expect("mkdir");
        std::fs::write(tls.join("ca.pem"), "").expect("write");
        assert_eq!(
            find_context(dir.path(), "edge").expect("found").tls,
            Some(tls)
        );

        let missing = find_context(dir.path(), "nope").expect_err("no such context");
        assert!(
            missing.to_string().contains("no docker context"),
            "{missing}"
        );
    }
}
