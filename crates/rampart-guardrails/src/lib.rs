//! Guardrails: PII, secret, prompt-injection and moderation screening of everything that
//! flows through Rampart — prompts, answers, tool arguments and results, memory candidates
//! and logs.
//!
//! - **Detectors** (`entities()` lists them): PII with validators (payment cards with Luhn
//!   and issuer prefixes, IBAN with mod-97 and country lengths, US SSN structure, UK NINO,
//!   Spanish DNI/NIE letters, French NIR keys, Italian codice fiscale, Dutch BSN 11-proof,
//!   Aadhaar Verhoeff, Canadian SIN, Brazilian CPF), emails, phones, IP addresses, dates of
//!   birth (a date next to a birth word), street addresses and introduced names; secrets
//!   (cloud and SaaS key formats, PEM private keys, JWTs, password assignments, high-entropy
//!   tokens next to key/secret/token words); prompt injection over text folded against
//!   obfuscation, with base64 payloads decoded, scored higher in tool results and memory;
//!   moderation by phrase lexicons.
//! - **Rules** pick entities or categories, stages and a minimum severity, and act: `block`
//!   (refuse), `redact` (mask, keyed hash, or typed placeholder kept in the request's
//!   [`Vault`] so the answer can be re-hydrated for the caller), or `flag` (record only).
//!   A rule with `enabled = false` applies only when a policy obligation switches it on.
//! - **Streams**: [`StreamGuard`] holds back only the trailing word and a short window, so
//!   an entity split across chunks is still caught; [`Rehydrator`] restores placeholders
//!   split across chunks.

mod detect;
mod engine;
mod kinds;
mod stream;
mod validate;
mod vault;

pub use detect::{EntityInfo, Finding};
pub use engine::{CLASSIFIED_STAGES, Checked, Guardrails, GuardrailsError, Hit, InjectionClassifier, Rule};
pub use kinds::{Action, Category, RedactionStyle, Severity, Stage};
pub use stream::{StreamGuard, StreamStep};
pub use vault::{Rehydrator, Vault};
