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
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
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
        });
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
