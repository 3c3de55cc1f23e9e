//! The terminal view of `build` and `inspect`: the builder's log on stderr (under a
//! spinner naming the current step, on a terminal), the image built with its names and
//! labels, and an image's ancestry, section by section.

use std::io::Write;

use console::style;

use super::Human;
use crate::events::{BuildLine, Built, ContainerView, ImageEvent, ImageView};
use crate::metadata::Method;
use crate::runtime::BuildProgress;

impl Human {
    pub(super) fn image(&mut self, event: &ImageEvent) {
        match event {
            ImageEvent::BuildLog(progress) => self.build_log(progress),
            ImageEvent::Built(built) => {
                self.stop_spinner();
                self.built(built);
            }
            ImageEvent::BuildFailed {
                image,
                error,
                duration,
            } => {
                self.stop_spinner();
                self.line(format!(
                    "{} build of {image} failed after {:.1} s: {error}",
                    style("FAIL").red().bold(),
                    duration.as_secs_f64()
                ));
            }
            ImageEvent::Inspected(inspection) => {
                let text = render(
                    inspection.container.as_ref(),
                    &inspection.chain,
                    self.verbose,
                );
                let _ = write!(self.out, "{text}");
            }
        }
    }

    fn build_log(&mut self, progress: &BuildProgress) {
        let (BuildProgress::Log(text) | BuildProgress::Status(text)) = progress;
        if !self.animate {
            self.err_line(text);
            return;
        }
        let bar = self.spinner();
        if text.starts_with("Step ") {
            bar.set_message(text.clone());
        }
        bar.println(text);
    }

    fn built(&mut self, built: &Built) {
        self.line(format!(
            "{} built {} {} in {:.1} s",
            style("PASS").green().bold(),
            built.image,
            style(&built.image_id).dim(),
            built.duration.as_secs_f64()
        ));
        self.line(format!("  tags    {}", built.tags.join(", ")));
        let width = built.labels.keys().map(String::len).max().unwrap_or(0);
        for (i, (key, value)) in built.labels.iter().enumerate() {
            let head = if i == 0 { "  labels  " } else { "          " };
            self.line(format!("{head}{key:width$}  {value}"));
        }
        for warning in &built.warnings {
            self.line(format!("{} {warning}", style("warning:").yellow()));
        }
    }
}

/// An image's ancestry, the container that runs it first.
fn render(container: Option<&ContainerView>, chain: &[ImageView], verbose: bool) -> String {
    let mut out = String::new();
    let bold = |s: &str| style(s.to_owned()).bold().to_string();
    let dim = |s: &str| style(s.to_owned()).dim().to_string();
    if let Some(c) = container {
        let since = match (&c.started_at, c.running) {
            (Some(at), true) => format!("running since {at}"),
            (Some(at), false) => format!("{} (last started {at})", c.status),
            (None, _) => c.status.clone(),
        };
        out.push_str(&format!("{} {}  {since}\n", bold("container"), c.name));
        out.push_str(&format!("  host      {}\n", c.host));
        out.push_str(&format!("  id        {}\n", c.id));
        out.push_str(&format!("  image     {}\n", c.image));
        out.push_str(&format!("  image id  {}\n", c.image_id));
        for digest in &c.image_digests {
            out.push_str(&format!("  digest    {digest}\n"));
        }
        if let Some(now) = &c.image_now {
            out.push_str(&format!(
                "  note      {} now names another image ({now}): this container runs an older build\n",
                c.image
            ));
        }
        push_methods(
            &mut out,
            &c.methods,
            "the container declares no lifecycle method",
        );
        out.push('\n');
    }
    for image in chain {
        let title = match image.depth {
            0 => bold("image"),
            1 => bold("base image"),
            n => bold(&format!("ancestor {n}")),
        };
        out.push_str(&format!(
            "{title} {}  {}\n",
            image.reference,
            dim(&format!("(found by: {})", image.found_by))
        ));
        if !image.present {
            out.push_str("  not on this engine: nothing more is known of it\n\n");
            continue;
        }
        if let Some(id) = &image.id {
            out.push_str(&format!("  id        {id}\n"));
        }
        let tags = if image.tags.is_empty() {
            "none".to_owned()
        } else {
            image.tags.join(", ")
        };
        out.push_str(&format!("  tags      {tags}\n"));
        if image.digests.is_empty() {
            out.push_str("  digests   none (built or loaded here, never pulled or pushed)\n");
        } else {
            for (i, d) in image.digests.iter().enumerate() {
                let head = if i == 0 {
                    "  digests   "
                } else {
                    "            "
                };
                out.push_str(&format!("{head}{d}\n"));
            }
        }
        if let Some(created) = &image.created {
            out.push_str(&format!("  created   {created}\n"));
        }
        let own: Vec<&BuildLine> = image.build.iter().filter(|b| !b.inherited).collect();
        let inherited = image.build.len() - own.len();
        if own.is_empty() {
            out.push_str("  build     no build labels of its own (OCI or label-schema)\n");
        } else {
            let width = own.iter().map(|b| b.field.len()).max().unwrap_or(0);
            let value_width = own
                .iter()
                .map(|b| b.value.chars().count())
                .max()
                .unwrap_or(0)
                .min(48);
            for (i, b) in own.iter().enumerate() {
                let head = row_head("build", i == 0);
                out.push_str(&format!(
                    "{head}{:width$}  {:value_width$}  {}\n",
                    b.field,
                    b.value,
                    dim(&b.key)
                ));
            }
        }
        if inherited > 0 {
            out.push_str(&format!(
                "            {}\n",
                dim(&format!(
                    "(and {inherited} label(s) inherited from its base, shown there)"
                ))
            ));
        }
        push_methods(&mut out, &image.methods, "no lifecycle method declared");
        if verbose {
            for (i, (key, value)) in image.labels.iter().enumerate() {
                let head = row_head("labels", i == 0);
                out.push_str(&format!("{head}{key}={value}\n"));
            }
        }
        out.push('\n');
    }
    out
}

/// The start of a row of a section: its name on the first row, blanks after.
fn row_head(section: &str, first: bool) -> String {
    if first {
        format!("  {section:<10}")
    } else {
        " ".repeat(12)
    }
}

fn push_methods(out: &mut String, methods: &[Method], none: &str) {
    if methods.is_empty() {
        out.push_str(&format!("  methods   {none}\n"));
        return;
    }
    let width = methods.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let command_width = methods
        .iter()
        .map(|m| m.command.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for (i, m) in methods.iter().enumerate() {
        let head = row_head("methods", i == 0);
        out.push_str(&format!(
            "{head}{:width$}  {:command_width$}  {}\n",
            m.name,
            m.command,
            style(m.declared_by.join(", ")).dim()
        ));
        if let Some(other) = &m.conflict {
            out.push_str(&format!(
                "            {}\n",
                style(format!(
                    "warning: its label says {other:?}; the environment wins"
                ))
                .yellow()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::super::tests::screens;
    use super::*;
    use crate::events::{Event, Inspection};

    #[test]
    fn inherited_labels_are_counted_not_shown_again() {
        let line = |field: &'static str, value: &str, inherited| BuildLine {
            field,
            value: value.into(),
            key: format!("org.opencontainers.image.{field}"),
            inherited,
        };
        let image = ImageView {
            build: vec![line("title", "rbldnsd", false), line("version", "12", true)],
            present: true,
            id: Some("sha256:1".into()),
            ..ImageView::absent(0, "rbl", "named")
        };
        let inspected = ImageEvent::Inspected(Inspection {
            container: None,
            chain: vec![image],
        });
        let (text, _) = screens(&[Event::Image(&inspected)], false);
        assert!(text.contains("rbldnsd"), "{text}");
        assert!(text.contains("1 label(s) inherited"), "{text}");
        assert!(!text.contains("  12  "), "{text}");
    }

    #[test]
    fn a_built_image_shows_its_tags_and_labels_in_one_column() {
        let built = ImageEvent::Built(Built {
            image: "rbl:latest".into(),
            image_id: "sha256:ab".into(),
            tags: vec!["rbl:latest".into(), "rbl:1".into()],
            labels: BTreeMap::from([
                ("devloop.build.ci".to_owned(), "false".to_owned()),
                (
                    "org.opencontainers.image.title".to_owned(),
                    "rbl".to_owned(),
                ),
            ]),
            warnings: vec!["ENV wins".into()],
            duration: Duration::from_millis(1300),
        });
        let (text, err) = screens(&[Event::Image(&built)], false);
        assert_eq!(
            text,
            "PASS built rbl:latest sha256:ab in 1.3 s\n  \
             tags    rbl:latest, rbl:1\n  \
             labels  devloop.build.ci                false\n          \
             org.opencontainers.image.title  rbl\n\
             warning: ENV wins\n"
        );
        assert_eq!(err, "");
    }

    #[test]
    fn the_build_log_goes_to_stderr() {
        let log = ImageEvent::BuildLog(BuildProgress::Log("Step 1/2 : FROM x".into()));
        let (out, err) = screens(&[Event::Image(&log)], false);
        assert_eq!((out.as_str(), err.as_str()), ("", "Step 1/2 : FROM x\n"));
    }
}
