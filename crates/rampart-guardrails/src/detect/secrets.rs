//! Credentials: provider key formats, private keys, JWTs, password assignments, and
//! high-entropy tokens next to a word that says they are secret.

use base64::Engine;

use super::{Candidate, PatternSpec, accept};
use crate::kinds::{Category, Severity};
use crate::validate;

fn jwt(candidate: &Candidate<'_>) -> Option<f32> {
    let header = candidate.value().split('.').next()?;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&decoded).ok()?;
    json.get("alg").is_some().then_some(1.0)
}

fn token_boundary(candidate: &Candidate<'_>) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !glued(candidate.char_before()) && !glued(candidate.char_after())
}

fn bounded(candidate: &Candidate<'_>) -> Option<f32> {
    token_boundary(candidate).then_some(1.0)
}

fn aws_secret(candidate: &Candidate<'_>) -> Option<f32> {
    (token_boundary(candidate) && validate::entropy(candidate.value()) > 3.5).then_some(1.0)
}

fn password(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    // `password: string` in docs and `password=${PASSWORD}` in templates are not passwords.
    let placeholder = value.starts_with('$')
        || value.starts_with('<')
        || value.starts_with('{')
        || value.starts_with("%(")
        || (value.starts_with('%') && value.ends_with('%'))
        || matches!(
            value.to_ascii_lowercase().as_str(),
            "string"
                | "null"
                | "none"
                | "true"
                | "false"
                | "password"
                | "required"
                | "xxx"
                | "xxxx"
                | "****"
                | "********"
                | "changeme"
                | "secret"
                | "your_password"
                | "redacted"
        );
    (!placeholder && !value.chars().all(|c| c == '*')).then_some(0.9)
}

fn high_entropy(candidate: &Candidate<'_>) -> Option<f32> {
    let value = candidate.value();
    if !token_boundary(candidate) {
        return None;
    }
    let classes = [
        value.bytes().any(|b| b.is_ascii_lowercase()),
        value.bytes().any(|b| b.is_ascii_uppercase()),
        value.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|&&present| present)
    .count();
    let is_uuid = value.len() == 36 && value.matches('-').count() == 4;
    let is_hex = value.bytes().all(|b| b.is_ascii_hexdigit());
    let is_path_or_url = value.contains("//") || value.starts_with('/');
    if is_uuid || is_path_or_url || classes < 2 {
        return None;
    }
    let threshold = if is_hex { 3.0 } else { 3.5 };
    (validate::entropy(value) >= threshold).then_some(0.8)
}

pub(crate) fn specs() -> Vec<PatternSpec> {
    use Category::Secret;
    use Severity::{High, Medium};
    let spec = |id, severity, description, pattern, group, validate, priority| PatternSpec {
        id,
        category: Secret,
        severity,
        description,
        pattern,
        group,
        validate,
        priority,
    };
    vec![
        spec("aws_access_key", High, "AWS access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", 0, accept, 90),
        spec(
            "aws_secret_key",
            High,
            "AWS secret access key (with its key name)",
            r"(?i:aws_?secret_?(?:access_?)?key|secretaccesskey)[\x22'\s]*[:=]\s*[\x22']?([A-Za-z0-9/+=]{40})",
            1,
            aws_secret,
            90,
        ),
        spec("gcp_api_key", High, "Google API key", r"\bAIza[0-9A-Za-z_-]{35}", 0, bounded, 90),
        spec(
            "azure_storage_key",
            High,
            "Azure storage account key",
            r"AccountKey=([A-Za-z0-9+/=]{40,100})",
            1,
            accept,
            90,
        ),
        spec(
            "github_token",
            High,
            "GitHub token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
            0,
            bounded,
            90,
        ),
        spec("gitlab_token", High, "GitLab personal access token", r"\bglpat-[A-Za-z0-9_-]{20,}", 0, accept, 90),
        spec("slack_token", High, "Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0, accept, 90),
        spec(
            "stripe_key",
            High,
            "Stripe secret or restricted key",
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
            0,
            bounded,
            90,
        ),
        spec(
            "anthropic_api_key",
            High,
            "Anthropic API key",
            r"\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{20,}",
            0,
            accept,
            92,
        ),
        spec(
            "openai_api_key",
            High,
            "OpenAI API key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            0,
            bounded,
            88,
        ),
        spec("rampart_api_key", High, "Rampart API key", r"\brk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", 0, accept, 92),
        spec(
            "private_key",
            High,
            "PEM private key (the block, or its header when cut)",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:(?s:.)*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?",
            0,
            accept,
            95,
        ),
        spec(
            "jwt",
            High,
            "JSON Web Token",
            r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
            jwt,
            85,
        ),
        spec(
            "password_assignment",
            High,
            "a password given in a key=value or key: value form",
            // Runs of a Unicode class are unbounded (`{4,}`, `+`), not counted: a count copies
            // the class into the automaton that many times (a megabyte for these two).
            r"(?i:\b[a-z_]*(?:password|passwd|pwd|passcode|passwort|mot de passe|contraseña|senha))[\x22']?\s*(?:[:=]|\bis\b)\s*[\x22']?([^\s\x22',;]{4,})",
            1,
            password,
            70,
        ),
        spec(
            "password_assignment",
            High,
            "a password in a URL's credentials (scheme://user:password@host)",
            r"\b[a-z][a-z0-9+.-]{1,20}://[^\s/:@]+:([^\s/@]+)@",
            1,
            password,
            70,
        ),
        spec(
            "high_entropy_secret",
            Medium,
            "a random-looking token next to key/secret/token/bearer",
            r"(?i:api[_-]?key|apikey|secret|token|credential|bearer|auth(?:orization)?|access[_-]?key|private[_-]?key|client[_-]?secret)[\w-]*[\x22']?\s*[:=]?\s*(?:bearer\s+)?[\x22']?([A-Za-z0-9_\-+/=.]{20,200})",
            1,
            high_entropy,
            20,
        ),
    ]
}
