//! Conversation history as the model saw it (after prompt redaction), encrypted per tenant
//! (`rampart-conversations`), screened once more at the `log` stage, written off the request
//! path when a call succeeds.

use std::sync::Arc;

use rampart_conversations::{ConversationContent, ConversationLog, NewConversation};
use rampart_guardrails::{Guardrails, Stage, Vault};

/// What a finished call leaves for its conversation record.
#[derive(Debug, Default)]
pub struct ConversationDraft {
    /// The messages as sent to the model.
    pub messages: serde_json::Value,
    /// The answer's text as the model gave it.
    pub answer: String,
}

pub struct ConversationRecorder {
    log: Arc<ConversationLog>,
    guardrails: Option<Arc<Guardrails>>,
    retention: rampart_config::ConversationsConfig,
}

impl ConversationRecorder {
    pub fn new(
        log: Arc<ConversationLog>,
        guardrails: Option<Arc<Guardrails>>,
        retention: rampart_config::ConversationsConfig,
    ) -> Self {
        ConversationRecorder { log, guardrails, retention }
    }

    /// Screens at the `log` stage, encrypts and stores, in the background. `tags` are the
    /// entity types guardrails already found in the call.
    pub fn record(
        &self,
        who: (String, Option<String>),
        request_id: String,
        model: String,
        draft: ConversationDraft,
        mut tags: Vec<String>,
    ) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let (tenant, user) = who;
        let mut content =
            ConversationContent { messages: draft.messages, response: serde_json::json!({"content": draft.answer}) };
        if let Some(guardrails) = &self.guardrails {
            let text = serde_json::to_string(&content).unwrap_or_default();
            let checked = guardrails.check(Stage::Log, &text, &[], &mut Vault::default());
            tags.extend(checked.hits.iter().map(|hit| hit.entity.to_owned()));
            if let Some(redacted) = checked.redacted
                && let Ok(screened) = serde_json::from_str::<ConversationContent>(&redacted)
            {
                content = screened;
            }
        }
        tags.sort();
        tags.dedup();
        let new = NewConversation {
            retention_days: self.retention.retention_days_for(&tenant),
            tenant,
            user,
            request_id: Some(request_id),
            model,
            pii_tags: tags,
        };
        let log = self.log.clone();
        crate::background::spawn(async move {
            if let Err(error) = log.record(new, &content).await {
                tracing::error!(%error, "could not store a conversation");
            }
        });
    }
}
