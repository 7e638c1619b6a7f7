//! Conversation → prompt text, with the model's own chat template where it has one.

use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};

use super::ChatTurn;

/// The prompt from the model's own chat template, or Gemma's turn format when it has none.
pub(super) fn render(model: &LlamaModel, turns: &[ChatTurn]) -> String {
    let templated = model.chat_template(None).ok().and_then(|template| {
        let messages: Vec<LlamaChatMessage> = turns
            .iter()
            .filter_map(|turn| LlamaChatMessage::new(turn.role.clone(), turn.content.clone()).ok())
            .collect();
        model.apply_chat_template(&template, &messages, true).ok()
    });
    templated.unwrap_or_else(|| gemma_prompt(turns))
}

/// Gemma's format: no system role, so system text opens the first user turn.
fn gemma_prompt(turns: &[ChatTurn]) -> String {
    let mut prompt = String::new();
    let mut system = String::new();
    for turn in turns {
        match turn.role.as_str() {
            "system" | "developer" => {
                system.push_str(&turn.content);
                system.push_str("\n\n");
            }
            role => {
                let role = if role == "assistant" { "model" } else { "user" };
                prompt.push_str("<start_of_turn>");
                prompt.push_str(role);
                prompt.push('\n');
                if role == "user" && !system.is_empty() {
                    prompt.push_str(&std::mem::take(&mut system));
                }
                prompt.push_str(turn.content.trim());
                prompt.push_str("<end_of_turn>\n");
            }
        }
    }
    prompt.push_str("<start_of_turn>model\n");
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemma_prompt_folds_system_into_the_first_user_turn() {
        let turns = vec![
            ChatTurn { role: "system".into(), content: "Be brief.".into() },
            ChatTurn { role: "user".into(), content: "Hi".into() },
        ];
        assert_eq!(gemma_prompt(&turns), "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
    }
}
