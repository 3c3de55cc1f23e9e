//! Just enough XML to check a JUnit report without an XML crate: a strict parser that
//! rejects what is not well-formed (one root, matching tags, quoted attributes, known
//! entities) and keeps elements and attributes.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;

/// An element of a parsed XML document: name, attributes, children.
#[derive(Debug)]
pub struct Element {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub children: Vec<Element>,
}

impl Element {
    /// The elements named `name` at or below this one, depth first.
    pub fn all(&self, name: &str) -> Vec<&Element> {
        self.descendants()
            .into_iter()
            .filter(|e| e.name == name)
            .collect()
    }

    /// Whether a `<failure>` is among its children (a failed `<testcase>`).
    pub fn failed(&self) -> bool {
        self.children.iter().any(|c| c.name == "failure")
    }

    /// This element and every element below it, depth first.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.descendants());
        }
        out
    }

    #[track_caller]
    pub fn attribute(&self, name: &str) -> &str {
        match self.attributes.get(name) {
            Some(value) => value,
            None => panic!("<{}> has no attribute {name}", self.name),
        }
    }
}

/// Parses an XML document strictly enough to reject what is not well-formed: one root,
/// matching tags, quoted attributes, known entities. Enough to test a JUnit report
/// without an XML crate.
pub fn parse_xml(text: &str) -> Result<Element, String> {
    let mut rest = text.trim_start();
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = after[end + 2..].trim_start();
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("unterminated comment")?;
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("unterminated end tag")?;
            let name = after[..end].trim();
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open.name != name {
                return Err(format!("<{}> closed by </{name}>", open.name));
            }
            rest = &after[end + 1..];
            finish_element(open, &mut stack, &mut root)?;
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').ok_or("unterminated tag")?;
            let (body, empty) = match after[..end].strip_suffix('/') {
                Some(body) => (body, true),
                None => (&after[..end], false),
            };
            let element = parse_tag(body)?;
            rest = &after[end + 1..];
            if empty {
                finish_element(element, &mut stack, &mut root)?;
            } else {
                stack.push(element);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let chars = &rest[..end];
            if stack.is_empty() && !chars.trim().is_empty() {
                return Err(format!("text outside the root element: {chars:?}"));
            }
            unescape(chars)?;
            rest = &rest[end..];
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

fn finish_element(
    element: Element,
    stack: &mut [Element],
    root: &mut Option<Element>,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(format!("a second root element <{}>", element.name)),
    }
    Ok(())
}

fn parse_tag(body: &str) -> Result<Element, String> {
    let is_name_char = |c: char| c.is_alphanumeric() || "_-.:".contains(c);
    let name_end = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() {
        return Err(format!("a tag without a name: <{body}>"));
    }
    let mut attributes = BTreeMap::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or(format!("attribute without value in <{body}>"))?;
        let key = rest[..eq].trim();
        if key.is_empty() || !key.chars().all(is_name_char) {
            return Err(format!("bad attribute name {key:?} in <{body}>"));
        }
        let after = rest[eq + 1..].trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or(format!("unquoted attribute {key} in <{body}>"))?;
        let close = after[1..]
            .find(quote)
            .ok_or(format!("unterminated attribute {key} in <{body}>"))?;
        let raw = &after[1..=close];
        if raw.contains('<') {
            return Err(format!("'<' in attribute {key} of <{body}>"));
        }
        if attributes.insert(key.to_owned(), unescape(raw)?).is_some() {
            return Err(format!("attribute {key} twice in <{body}>"));
        }
        rest = after[close + 2..].trim_start();
    }
    Ok(Element {
        name: name.to_owned(),
        attributes,
        children: Vec::new(),
    })
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or(format!("bare '&' in {text:?}"))?;
        let entity = &after[..semi];
        let ch = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32)
                .ok_or(format!("unknown entity &{entity}; in {text:?}"))?,
        };
        out.push(ch);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The JUnit report a run wrote at `path`, parsed; `run` says which run, if it is missing
/// or not XML.
#[track_caller]
pub fn read_report(path: &Path, run: &dyn Display) -> Element {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the JUnit file {} is written: {e}\n{run}", path.display()));
    parse_xml(&xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"))
}
