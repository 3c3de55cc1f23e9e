//! "did you mean": the closest known name, and serde's terse messages said the way an
//! operator wants them.

pub(super) fn list_keys(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub(crate) fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<String> {
    closest(wrong, candidates.into_iter().map(String::as_str))
        .map(|c| format!("did you mean `{c}`?"))
}

pub(crate) fn closest<'a>(
    wrong: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(wrong, c), c))
        .filter(|(distance, c)| {
            *distance <= (c.len().max(wrong.len()) / 3).max(1) || c.starts_with(wrong)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// serde's messages are precise but terse; add the suggestion an operator wants.
pub(super) fn explain_toml_error(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = closest(field, candidates.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some(format!("expected one of {}", list_keys(&candidates))));
            return (format!("unknown key `{field}`"), help);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = closest(variant, candidates.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some(format!("expected one of {}", list_keys(&candidates))));
            return (format!("unknown value `{variant}`"), help);
        }
    }
    if message.starts_with("data did not match any variant of untagged enum ExpectSpec") {
        return (
            "`expect` must be a string (\"nxdomain\", \"nodata\", \"answer\" or one record) or a list of records".into(),
            None,
        );
    }
    (message, None)
}
