//! Ports a config names (probes, a step's `port`, `DEVLOOP_PORT_*` in commands) must be
//! ports the service publishes.

use super::error::ValueError;
use super::{ConfigError, ContainerPort, Key, Service, StepSpec};

/// Ports a step names (its `port`, and `DEVLOOP_PORT_<port>_<PROTO>` in what a host
/// command gets) must be ones the service publishes: an unpublished one would only show
/// up as a timeout.
pub(super) fn check_ports(
    spec: &StepSpec,
    service: &Service,
    value_error: &ValueError<'_>,
) -> Result<(), ConfigError> {
    let published: Vec<String> = service.ports.iter().map(|p| format!("\"{p}\"")).collect();
    let ports = format!("ports = [{}]", published.join(", "));
    let name = |n: &str| Key::Name(n.to_owned());
    if let Some(port) = spec.port {
        if !service.ports.contains(&port) {
            return Err(value_error(
                &[name("port")],
                format!("the step asks {port}, which the service does not publish ({ports})"),
                Some(format!(
                    "add \"{port}\" to the service's ports, or ask one of those"
                )),
            ));
        }
    }
    if matches!(spec.kind(), "dns" | "rbl" | "rfc5782") {
        let Some(port) = service.dns_port(spec.port) else {
            return Err(value_error(
                &[],
                format!(
                    "a `{}` step needs a port to ask, and the service publishes none",
                    spec.kind()
                ),
                Some("set `ports` on the service, or `port` on the step".into()),
            ));
        };
        // `tcp = true` asks over TCP only, `tcp = false` over UDP only: that protocol's
        // port must be published too.
        if let Some(tcp) = spec.tcp {
            let wanted = ContainerPort {
                port: port.port,
                udp: !tcp,
            };
            if !service.ports.contains(&wanted) {
                return Err(value_error(
                    &[name("tcp")],
                    format!(
                        "`tcp = {tcp}` asks over {}, and the service does not publish {wanted} ({ports})",
                        wanted.proto().to_uppercase()
                    ),
                    Some(format!(
                        "add \"{wanted}\" to the service's ports, or leave `tcp` out"
                    )),
                ));
            }
        }
    }
    let mut texts: Vec<(Vec<Key>, &str)> = Vec::new();
    if let Some(script) = &spec.sh {
        texts.push((vec![name("sh")], script));
    }
    for (index, word) in spec.run.iter().flatten().enumerate() {
        texts.push((vec![name("run"), Key::Index(index)], word));
    }
    for (key, value) in spec.env.iter().flatten() {
        texts.push((vec![name("env"), name(key)], value));
    }
    for (key, text) in texts {
        for (variable, port) in port_variables(text) {
            let problem = match port {
                None => Some(format!(
                    "`{variable}` is no port variable: they are DEVLOOP_PORT_<port>_UDP and DEVLOOP_PORT_<port>_TCP"
                )),
                Some(port) if !service.ports.contains(&port) => Some(format!(
                    "`{variable}` names {port}, which the service does not publish ({ports})"
                )),
                Some(_) => None,
            };
            if let Some(message) = problem {
                return Err(value_error(
                    &key,
                    message,
                    Some(
                        "host commands get DEVLOOP_PORT_<port>_<PROTO> for each published port"
                            .into(),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `DEVLOOP_PORT_<port>_<PROTO>` variables in a text, with the port each names (`None`
/// when it names none).
fn port_variables(text: &str) -> Vec<(String, Option<ContainerPort>)> {
    const PREFIX: &str = "DEVLOOP_PORT_";
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PREFIX) {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let variable = &tail[..end];
        let port = variable[PREFIX.len()..]
            .split_once('_')
            .and_then(|(number, proto)| {
                let proto = match proto {
                    "UDP" => "udp",
                    "TCP" => "tcp",
                    _ => return None,
                };
                format!("{number}/{proto}").parse::<ContainerPort>().ok()
            });
        found.push((variable.to_owned(), port));
        rest = &tail[end.max(PREFIX.len())..];
    }
    found
}
