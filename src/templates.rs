//! The scaffolds `devloop init` writes: the top-level `templates/` folder, built into the
//! binary. A leaf: the command line lists their names, `init` writes them.

/// One scaffold `devloop init` can write.
#[derive(Debug)]
pub(crate) struct Template {
    pub name: &'static str,
    pub description: &'static str,
    pub contents: &'static str,
}

pub(crate) const TEMPLATES: [Template; 3] = [
    Template {
        name: "rbldnsd",
        description: "DNS black and white lists served by rbldnsd: RFC 5782 checks, test:host HOST",
        contents: include_str!("../templates/rbldnsd/devloop.toml"),
    },
    Template {
        name: "bind",
        description: "an authoritative BIND name server: named-checkconf, named-checkzone, SOA and NS of every zone",
        contents: include_str!("../templates/bind/devloop.toml"),
    },
    Template {
        name: "generic",
        description: "any containerised service: an image, a port, a readiness probe, a check to fill in",
        contents: include_str!("../templates/generic/devloop.toml"),
    },
];

/// The templates' names, for the command line's list of possible values.
pub(crate) const NAMES: [&str; 3] = [TEMPLATES[0].name, TEMPLATES[1].name, TEMPLATES[2].name];
