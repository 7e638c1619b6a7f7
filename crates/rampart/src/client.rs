//! Commands that talk to a running gateway over its OpenAI API: `chat` and `models`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use rampart_backends::SseParser;
use rampart_types::{ChatCompletionChunk, ChatCompletionResponse, ChatMessage, ErrorResponse, ModelList, Role};
use serde_json::{Value, json};

use crate::CliError;
use crate::cli::{ChatArgs, ClientArgs, ListModelsArgs};

pub(crate) struct Client {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    api_key: Option<String>,
}

impl Client {
    pub(crate) fn new(config_path: Option<&Path>, args: &ClientArgs) -> Result<Self, CliError> {
        rampart_backends::ensure_crypto_provider();
        let base = match args.url.clone().or_else(|| std::env::var("RAMPART_URL").ok().filter(|url| !url.is_empty())) {
            Some(url) => url,
            None => {
                let listen = rampart_config::load(config_path)?.config.server.listen;
                format!("http://{}", listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]"))
            }
        };
        let base = base.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        let http = reqwest::Client::builder().build().map_err(|error| CliError::failed(error.to_string()))?;
        Ok(Client { base, http, api_key: args.api_key.clone().filter(|key| !key.is_empty()) })
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        let request = match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|error| CliError::Unreachable { url: self.base.clone(), detail: error_chain(&error) })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorResponse>(&body).map(|error| error.error.message).unwrap_or(body);
        Err(CliError::failed(format!("the gateway answered {status}: {message}")))
    }
}

impl Client {
    /// Sends and reads a JSON answer; `what` names the call in the error.
    pub(crate) async fn json(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, CliError> {
        let response = self.send(request).await?;
        response.json().await.map_err(|error| CliError::failed(format!("unexpected answer to {what}: {error}")))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

pub async fn list_models(config_path: Option<&Path>, args: ListModelsArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let response = client.send(client.http.get(format!("{}/v1/models", client.base))).await?;
    let list: ModelList =
        response.json().await.map_err(|error| CliError::failed(format!("unexpected /v1/models answer: {error}")))?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&list).map_err(|error| CliError::failed(error.to_string()))?);
        return Ok(());
    }
    if list.data.is_empty() {
        eprintln!("the gateway serves no models: add [[backends]] and [[models]] to its config");
        return Ok(());
    }
    say!("{:<28} {:<28} {:<10} {:<5} {:<16}", "ID", "MODEL", "KIND", "TIER", "BACKEND");
    for model in list.data {
        say!(
            "{:<28} {:<28} {:<10} {:<5} {:<16}",
            model.id,
            model.root.unwrap_or_default(),
            model.kind.unwrap_or_default(),
            model.tier.map(|tier| tier.to_string()).unwrap_or_default(),
            model.owned_by
        );
    }
    Ok(())
}

pub async fn chat(config_path: Option<&Path>, args: ChatArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let mut history: Vec<ChatMessage> = Vec::new();
    if let Some(system) = &args.system {
        history.push(ChatMessage::text(Role::System, system.clone()));
    }
    let prompt = match &args.prompt {
        Some(prompt) => Some(prompt.clone()),
        None if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            for line in std::io::stdin().lock().lines() {
                let line = line.map_err(|error| CliError::failed(format!("cannot read stdin: {error}")))?;
                text.push_str(&line);
                text.push('\n');
            }
            Some(text)
        }
        None => None,
    };
    if let Some(prompt) = prompt {
        if prompt.trim().is_empty() {
            return Err(CliError::failed("the prompt is empty: pass one as an argument or on stdin"));
        }
        history.push(ChatMessage::text(Role::User, prompt));
        complete(&client, &args, &history).await?;
        return Ok(());
    }
    eprintln!(
        "Chatting with '{}' at {}. /reset clears the conversation, /exit or Ctrl-D quits.",
        args.model, client.base
    );
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => return Err(CliError::failed(format!("cannot read stdin: {error}"))),
        }
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.retain(|message| message.role == Role::System);
                eprintln!("(conversation cleared)");
                continue;
            }
            _ => {}
        }
        history.push(ChatMessage::text(Role::User, line));
        match complete(&client, &args, &history).await {
            Ok(answer) => history.push(ChatMessage::text(Role::Assistant, answer)),
            Err(error) => {
                // Keep the session alive: the user can retry or change course.
                history.pop();
                eprintln!("error: {error}");
            }
        }
    }
    Ok(())
}

/// Sends the conversation and prints the answer (streamed unless asked not to); returns its text.
async fn complete(client: &Client, args: &ChatArgs, history: &[ChatMessage]) -> Result<String, CliError> {
    let stream = !(args.no_stream || args.json);
    let mut body = json!({"model": args.model, "messages": history, "stream": stream});
    if let Some(max_tokens) = args.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    if let Some(temperature) = args.temperature {
        body["temperature"] = json!(temperature);
    }
    let request = client.http.post(format!("{}/v1/chat/completions", client.base)).json(&body);
    let mut response = client.send(request).await?;
    let mut stdout = std::io::stdout();
    if !stream {
        let value: Value =
            response.json().await.map_err(|error| CliError::failed(format!("unreadable answer: {error}")))?;
        if args.json {
            say!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        let completion: ChatCompletionResponse =
            serde_json::from_value(value).map_err(|error| CliError::failed(format!("unexpected answer: {error}")))?;
        let text = completion.choices.first().and_then(|choice| choice.message.content.clone()).unwrap_or_default();
        if !args.json {
            say!("{text}");
        }
        return Ok(text);
    }
    let mut parser = SseParser::default();
    let mut answer = String::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| CliError::failed(format!("stream broke: {}", error_chain(&error))))?;
        let Some(bytes) = chunk else { break };
        parser.push(&bytes);
        while let Some(event) = parser.next_event() {
            if event.data.trim() == "[DONE]" {
                let _ = writeln!(stdout);
                return Ok(answer);
            }
            if let Ok(error) = serde_json::from_str::<ErrorResponse>(&event.data) {
                let _ = writeln!(stdout);
                return Err(CliError::failed(format!("the stream ended with an error: {}", error.error.message)));
            }
            let chunk: ChatCompletionChunk = serde_json::from_str(&event.data)
                .map_err(|error| CliError::failed(format!("unexpected stream event: {error}")))?;
            for choice in chunk.choices {
                if let Some(text) = choice.delta.content {
                    answer.push_str(&text);
                    let _ = write!(stdout, "{text}");
                    let _ = stdout.flush();
                }
            }
        }
    }
    let _ = writeln!(stdout);
    Ok(answer)
}
