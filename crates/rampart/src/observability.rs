//! Start-up of what watches traffic: OpenTelemetry export and the guardrails.

use std::sync::Arc;

use rampart_config::{
    Config, GuardrailAction, GuardrailRedaction, GuardrailRuleConfig, GuardrailSeverity, GuardrailStage,
};
use rampart_guardrails::{Action, Guardrails, RedactionStyle, Rule, Severity, Stage};
use rampart_telemetry::Telemetry;

use crate::CliError;

pub struct Observability {
    pub telemetry: Telemetry,
    pub guardrails: Option<Arc<Guardrails>>,
}

pub fn start(config: &Config) -> Result<Observability, CliError> {
    let telemetry = Telemetry::start(&config.telemetry).map_err(|error| {
        CliError::failed(format!("{error}\nhint: check [telemetry] or OTEL_EXPORTER_OTLP_ENDPOINT"))
    })?;
    if let Some(target) = telemetry.target() {
        tracing::info!(endpoint = %target.endpoint, protocol = ?target.protocol, "exporting traces over OTLP");
    }
    let guardrails = if config.guardrails.enabled { Some(Arc::new(guardrails(config)?)) } else { None };
    if let Some(guardrails) = &guardrails {
        tracing::info!(rules = guardrails.rules().len(), "guardrails on");
    }
    Ok(Observability { telemetry, guardrails })
}

/// The configured rules, or the built-in ones when `[guardrails]` is on with none.
pub fn guardrails(config: &Config) -> Result<Guardrails, CliError> {
    let section = &config.guardrails;
    let rules = if section.rules.is_empty() {
        Guardrails::default_rules()
    } else {
        section.rules.iter().map(rule_from).collect()
    };
    let hash_key = match &section.hash_key_file {
        Some(path) => {
            let key = std::fs::read(path).map_err(|error| {
                CliError::failed(format!(
                    "cannot read [guardrails] hash_key_file {}: {error}\nhint: create it with `head -c 32 /dev/urandom > {}`",
                    path.display(),
                    path.display()
                ))
            })?;
            if key.len() < 32 {
                return Err(CliError::failed(format!(
                    "[guardrails] hash_key_file {} holds {} bytes: it needs at least 32",
                    path.display(),
                    key.len()
                )));
            }
            Some(key)
        }
        None => None,
    };
    let guardrails =
        Guardrails::new(rules, hash_key).map_err(|error| CliError::failed(format!("[guardrails] {error}")))?;
    match &section.injection_classifier {
        Some(classifier) => Ok(guardrails.with_injection_classifier(injection_classifier(classifier)?)),
        None => Ok(guardrails),
    }
}

/// Loads `[guardrails.injection_classifier]`'s model.
#[cfg(feature = "embedded")]
fn injection_classifier(
    config: &rampart_config::InjectionClassifierConfig,
) -> Result<Arc<dyn rampart_guardrails::InjectionClassifier>, CliError> {
    let model = rampart_inference::TextClassifier::load(&config.path, &config.labels, config.window_tokens).map_err(
        |error| {
            CliError::failed(format!(
                "[guardrails.injection_classifier] {error}\nhint: see docs/guardrails.md#an-injection-classifier-model"
            ))
        },
    )?;
    tracing::info!(
        path = %config.path.display(),
        labels = ?model.positive_labels(),
        "guardrails score prompts and tool results with an injection classifier"
    );
    Ok(Arc::new(ClassifierModel(model)))
}

#[cfg(not(feature = "embedded"))]
fn injection_classifier(
    _: &rampart_config::InjectionClassifierConfig,
) -> Result<Arc<dyn rampart_guardrails::InjectionClassifier>, CliError> {
    Err(CliError::failed(
        "[guardrails.injection_classifier] needs in-process inference, which this binary was built without \
         (--no-default-features)\nhint: build with the default features, or remove the section",
    ))
}

/// A text-classification model as guardrails' injection classifier.
#[cfg(feature = "embedded")]
struct ClassifierModel(rampart_inference::TextClassifier);

#[cfg(feature = "embedded")]
impl rampart_guardrails::InjectionClassifier for ClassifierModel {
    fn score(&self, text: &str) -> Result<f32, String> {
        self.0.score(text).map_err(|error| {
            tracing::warn!(%error, "the injection classifier failed; the text counts as an injection");
            error.to_string()
        })
    }
}

fn rule_from(config: &GuardrailRuleConfig) -> Rule {
    let mut rule = Rule::new(
        config.name.clone(),
        config.entities.clone(),
        match config.action {
            GuardrailAction::Block => Action::Block,
            GuardrailAction::Redact => Action::Redact,
            GuardrailAction::Flag => Action::Flag,
        },
    );
    rule.redaction = match config.redaction {
        GuardrailRedaction::Mask => RedactionStyle::Mask,
        GuardrailRedaction::Hash => RedactionStyle::Hash,
        GuardrailRedaction::Placeholder => RedactionStyle::Placeholder,
    };
    rule.stages = config
        .stages
        .iter()
        .map(|stage| match stage {
            GuardrailStage::Prompt => Stage::Prompt,
            GuardrailStage::Response => Stage::Response,
            GuardrailStage::ToolArguments => Stage::ToolArguments,
            GuardrailStage::ToolResult => Stage::ToolResult,
            GuardrailStage::Memory => Stage::Memory,
            GuardrailStage::Log => Stage::Log,
        })
        .collect();
    rule.min_severity = match config.min_severity {
        GuardrailSeverity::Low => Severity::Low,
        GuardrailSeverity::Medium => Severity::Medium,
        GuardrailSeverity::High => Severity::High,
    };
    rule.enabled = config.enabled;
    rule
}
