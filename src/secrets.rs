//! Where secrets come from and where they may travel, shared by sources and alert targets.
//!
//! A secret (an API token, a webhook URL, a signing key) is named in the TOML by an environment
//! variable (`*_env`) or a file (`*_file`), never written there, so a config file can be
//! committed and shared. Validation only checks that the variable is set or the file exists
//! (Vector's rule: validate without I/O); the value is read when the component is built, and
//! from then on lives in a [`SecretString`] whose `Debug` is redacted.
//!
//! Secrets may only be sent over https, or over plain http to a loopback address (test fakes,
//! a local proxy): [`is_loopback`] and [`parse_secret_url`] enforce that. Nothing in this module
//! ever puts a secret's value in a message.

use std::fmt;
use std::path::Path;

use secrecy::SecretString;
use url::Url;

use crate::validation::Problems;

/// Looks up an environment variable. Validation takes one as a parameter so tests can check
/// env-based configs without touching the process environment (tests run in parallel threads).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for [`EnvLookup`] parameters. Non-UTF-8 values count as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One secret as configured: which keys name it and where they point.
#[derive(Debug, Clone, Copy)]
pub struct SecretSpec<'a> {
    /// What the secret is, for messages: "token", "webhook URL", "signing secret".
    pub what: &'a str,
    /// The config key naming an environment variable, e.g. `token_env`.
    pub env_key: &'a str,
    /// The config key naming a file, e.g. `token_file`.
    pub file_key: &'a str,
    pub env: Option<&'a str>,
    pub file: Option<&'a Path>,
    /// A complete config line to show when the secret is missing.
    pub example: &'a str,
}

impl SecretSpec<'_> {
    /// Checks that exactly one place is named and that it exists. `key` is the table the keys
    /// sit in, e.g. `alerts[0]`. Returns the value when it came from the environment, so the
    /// caller can check its shape (an env lookup is not I/O); files are read only by
    /// [`SecretSpec::resolve`].
    pub fn validate(
        &self,
        key: &str,
        env: EnvLookup<'_>,
        problems: &mut Problems,
    ) -> Option<SecretString> {
        let (env_key, file_key, what) = (self.env_key, self.file_key, self.what);
        match (self.env, self.file) {
            (None, None) => {
                problems.push_with_example(
                    format!("{key}.{env_key}"),
                    format!(
                        "a {what} is required: name an environment variable ({env_key}) or a file ({file_key}) that holds it"
                    ),
                    self.example,
                );
                None
            }
            (Some(_), Some(_)) => {
                problems.push(
                    format!("{key}.{env_key}"),
                    format!("set {env_key} or {file_key}, not both"),
                );
                None
            }
            (Some(var), None) if !looks_like_variable(var) => {
                problems.push_with_example(
                    format!("{key}.{env_key}"),
                    format!("{NOT_A_VARIABLE}; if it is the {what} itself, put it in a variable or a file ({file_key}) instead"),
                    self.example,
                );
                None
            }
            (Some(var), None) => match env(var).filter(|v| !v.trim().is_empty()) {
                Some(value) => Some(SecretString::from(value.trim().to_string())),
                None => {
                    problems.push_unavailable_secret(
                        format!("{key}.{env_key}"),
                        format!("the environment variable {var} is not set"),
                        Some(format!("export {var}=<{what}>")),
                    );
                    None
                }
            },
            (None, Some(path)) => {
                if !path.is_file() {
                    problems.push_unavailable_secret(
                        format!("{key}.{file_key}"),
                        format!("{} is not a readable file", path.display()),
                        None,
                    );
                }
                None
            }
        }
    }

    /// Reads the secret from the process environment or its file, trimmed (files usually end
    /// with a newline). The error names where it looked, never what it found.
    pub fn resolve(&self) -> Result<SecretString, SecretError> {
        let what = self.what;
        let value = match (self.env, self.file) {
            (Some(var), _) if !looks_like_variable(var) => {
                return Err(SecretError(format!("{}: {NOT_A_VARIABLE}", self.env_key)));
            }
            (Some(var), _) => std::env::var(var)
                .map_err(|_| SecretError(format!("the environment variable {var} is not set")))?,
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                SecretError(format!(
                    "cannot read the {what} file {}: {e}",
                    path.display()
                ))
            })?,
            (None, None) => return Err(SecretError(format!("no {what} configured"))),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretError(format!("the {what} is empty")));
        }
        Ok(SecretString::from(value.to_string()))
    }

    /// Where the secret was read from, for messages: `the environment variable X` or
    /// `the file Y`.
    pub fn origin(&self) -> String {
        match (self.env, self.file) {
            (Some(var), _) if !looks_like_variable(var) => {
                format!("the environment variable named by {}", self.env_key)
            }
            (Some(var), _) => format!("the environment variable {var}"),
            (None, Some(path)) => format!("the file {}", path.display()),
            (None, None) => format!("the {what}", what = self.what),
        }
    }
}

/// What is said of an `*_env` value that is not a variable name: it may be the secret itself,
/// pasted into the wrong key, so it is never shown.
const NOT_A_VARIABLE: &str = "must name an environment variable (upper-case letters, digits and _, like KASSA_META_TOKEN); the value given does not look like one (not shown)";

/// Whether `name` looks like an environment variable's name: `[A-Z_][A-Z0-9_]*`. Tokens,
/// webhook URLs and signing secrets all hold a lower-case letter, a digit first, or `-`, `:`,
/// `/` or `.`, so a secret pasted into `token_env` is caught here and never echoed.
pub fn looks_like_variable(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_uppercase() || first == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A secret that could not be read. The message never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError(pub String);

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SecretError {}

/// Whether the URL's host is this machine: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether a secret may be sent to this URL: https anywhere, plain http only to loopback.
pub fn is_safe_transport(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(url),
        _ => false,
    }
}

/// Why a URL that is itself a secret (a webhook URL) cannot be used. Its messages describe the
/// problem without quoting the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    NotAUrl,
    Insecure,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlProblem::NotAUrl => "does not hold an absolute http(s) URL",
            UrlProblem::Insecure => {
                "holds a URL that does not use https:// (plain http:// is accepted for loopback addresses only)"
            }
        })
    }
}

/// Parses a URL that is a secret and checks it is safe to send to. `url::ParseError` messages
/// never quote their input, but we do not even pass those on: the message would not help more
/// than "not a URL" and it is one less path for the secret to leak through.
pub fn parse_secret_url(value: &str) -> Result<Url, UrlProblem> {
    let url = Url::parse(value.trim()).map_err(|_| UrlProblem::NotAUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(UrlProblem::NotAUrl);
    }
    if !is_safe_transport(&url) {
        return Err(UrlProblem::Insecure);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_safe() {
        assert!(parse_secret_url("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(parse_secret_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(parse_secret_url("http://127.8.0.1/hook").is_ok());
        assert!(parse_secret_url("http://[::1]:9/hook").is_ok());
        assert!(parse_secret_url("http://localhost/hook").is_ok());
        assert_eq!(
            parse_secret_url("http://hooks.example.com/x"),
            Err(UrlProblem::Insecure)
        );
        assert_eq!(
            parse_secret_url("ftp://127.0.0.1/x"),
            Err(UrlProblem::NotAUrl)
        );
        assert_eq!(parse_secret_url("hooks/x"), Err(UrlProblem::NotAUrl));
    }

    #[test]
    fn env_values_are_returned_for_shape_checks_and_absence_is_a_problem() {
        let spec = SecretSpec {
            what: "webhook URL",
            env_key: "url_env",
            file_key: "url_file",
            env: Some("HOOK"),
            file: None,
            example: "url_env = \"HOOK\"",
        };
        let mut problems = Problems::default();
        let found = spec.validate("alerts[0]", &|_| Some(" x \n".to_string()), &mut problems);
        assert!(problems.is_empty());
        assert!(found.is_some());
        let found = spec.validate("alerts[0]", &|_| None, &mut problems);
        assert!(found.is_none());
        let problem = problems.iter().next().expect("one problem");
        assert_eq!(problem.key, "alerts[0].url_env");
        assert!(problem.message.contains("HOOK"));
    }
}
