//! Configuration problems, collected rather than thrown, so a user sees every mistake in one go.
//!
//! Each component validates its own config section without I/O and pushes what it finds here
//! (Vector's pattern); only when the list is empty does anything get built.

use std::fmt;

/// One thing wrong with the configuration: where, what, and what a right value looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key, e.g. `analysis.granularity` or `sources[1].token_env`.
    pub key: String,
    pub message: String,
    pub example: Option<String>,
    /// Where the value came from when that is not the configuration file, e.g. `the
    /// environment variable KASSA__ANALYSIS__BASELINE_PERIODS`.
    pub origin: Option<String>,
    /// The problem is only that a secret cannot be found (its variable is unset, its file
    /// missing): commands that use no secret ignore it ([`Problems::forget_unavailable_secrets`]).
    pub unavailable_secret: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(origin) = &self.origin {
            write!(f, " (from {origin})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(example) = &self.example {
            write!(f, " (for example: {example})")?;
        }
        Ok(())
    }
}

/// The problems found so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
            example: None,
            origin: None,
            unavailable_secret: false,
        });
    }

    pub fn push_with_example(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        example: impl Into<String>,
    ) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
            example: Some(example.into()),
            origin: None,
            unavailable_secret: false,
        });
    }

    /// A secret that cannot be found where the configuration says it is.
    pub fn push_unavailable_secret(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        example: Option<String>,
    ) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
            example,
            origin: None,
            unavailable_secret: true,
        });
    }

    /// Drops the problems that are only about secrets not being found, for commands that read
    /// no secret (`analyze`): they must run where the tokens are not set.
    pub fn forget_unavailable_secrets(&mut self) {
        self.0.retain(|problem| !problem.unavailable_secret);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Marks every problem about `key` (or a part of it, `key[2]`, `key.x`) that has no origin
    /// yet as coming from `origin`.
    pub fn attribute(&mut self, key: &str, origin: &str) {
        for problem in &mut self.0 {
            let rest = problem.key.strip_prefix(key);
            let about = rest.is_some_and(|r| r.is_empty() || r.starts_with(['.', '[']));
            if about && problem.origin.is_none() {
                problem.origin = Some(origin.to_string());
            }
        }
    }

    /// Appends every problem of `other`.
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "the configuration has {count} problem{}:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Checks a component's `name` (a source, an alert target): names appear in logs, in the store
/// and in file names, so they are restricted to letters, digits, '-' and '_'. `what` is the
/// component ("source"), `example` a good name ("meta-main").
pub fn validate_name(name: &str, key: &str, what: &str, example: &str, problems: &mut Problems) {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        problems.push_with_example(
            key,
            format!("{name:?} is not a usable {what} name: use letters, digits, '-' and '_'"),
            format!("name = \"{example}\""),
        );
    }
}

/// The number of single-character insertions, deletions, substitutions and swaps of two
/// neighbours that turn `a` into `b` (optimal string alignment distance).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between the first i characters of a and the first j of b.
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The known name closest to `unknown`, when it is close enough to be a plausible typo (at
/// most a third of its characters wrong, and at least one allowed), or when one name merely
/// extends the other (`alert` for `alerts`).
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let unknown = unknown.to_lowercase();
    known
        .into_iter()
        .map(|name| (edit_distance(&unknown, &name.to_lowercase()), name))
        .filter(|(distance, name)| {
            *distance <= (unknown.chars().count().max(name.chars().count()) / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// Adds "did you mean `path`?" to serde's "unknown field `pth`, expected one of `name`, `path`"
/// (and to "unknown variant" for a misspelt `kind`), naming the closest of the names serde
/// lists. Other messages come back unchanged.
pub fn with_suggestion(message: &str) -> String {
    let suggestion = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|start| {
            let at = message.find(start)? + start.len();
            let unknown = message[at..].split('`').next()?;
            let listed = &message[at + unknown.len() + 1..];
            let listed = listed.split(" for key ").next().unwrap_or(listed);
            let known = listed.split('`').skip(1).step_by(2);
            closest(unknown, known)
        });
    match suggestion {
        Some(name) => format!("{message}; did you mean `{name}`?"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("analysys", "analysis"), 1);
        assert_eq!(edit_distance("pth", "path"), 1);
        assert_eq!(edit_distance("alert", "alerts"), 1);
        assert_eq!(edit_distance("tiemzone", "timezone"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("store", "store"), 0);
    }

    #[test]
    fn only_plausible_typos_are_suggested() {
        let sections = ["store", "analysis", "alerting", "alerts", "sources"];
        assert_eq!(closest("analysys", sections), Some("analysis"));
        assert_eq!(closest("alert", sections), Some("alerts"));
        assert_eq!(closest("source", sections), Some("sources"));
        assert_eq!(closest("telemetry", sections), None);
    }

    #[test]
    fn serde_messages_get_a_suggestion() {
        assert_eq!(
            with_suggestion("unknown field `pth`, expected one of `name`, `path`, `account`"),
            "unknown field `pth`, expected one of `name`, `path`, `account`; did you mean `path`?"
        );
        assert_eq!(
            with_suggestion("unknown variant `slak`, expected one of `slack`, `telegram`"),
            "unknown variant `slak`, expected one of `slack`, `telegram`; did you mean `slack`?"
        );
        assert_eq!(
            with_suggestion("missing field `name`"),
            "missing field `name`"
        );
    }
}
