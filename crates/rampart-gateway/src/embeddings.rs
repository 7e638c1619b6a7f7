//! `POST /v1/embeddings`.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rampart_config::ModelKind;
use rampart_core::{EmbedCall, EmbedInputs};
use rampart_types::{
    EmbeddingInput, EmbeddingObject, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EmbeddingVector,
    EncodingFormat, ErrorResponse, Usage, from_json_object,
};

use crate::auth::Caller;
use crate::budget::admit_embeddings;
use crate::decision::{CallFacts, decide_model_call};
use crate::error::ApiError;
use crate::guard::{CallGuard, screen_off_thread, switched_on_by};
use crate::hints::take_route_hints;
use crate::middleware::RequestId;
use crate::record::CallRecord;
use crate::resolve::{field_error, observe_route};
use crate::routes::resolve_target;
use crate::state::AppState;

/// OpenAI's limit on inputs per request.
const MAX_INPUTS: usize = 2048;

#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "openai",
    request_body = EmbeddingRequest,
    responses(
        (status = 200, description = "One embedding per input, as floats or base64", body = EmbeddingResponse),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 404, description = "Unknown model", body = ErrorResponse),
        (status = 502, description = "Upstream failure", body = ErrorResponse),
    )
)]
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    Extension(caller): Extension<Caller>,
    trace: Option<Extension<crate::spans::RequestTrace>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let trace = trace.map(|Extension(trace)| trace);
    let mut record = CallRecord::new(state.clone(), request_id.0, "embeddings", caller, trace.as_ref());
    match handle(&state, &headers, body, &mut record).await {
        Ok(response) => {
            record.finish(200, None);
            let mut response = axum::Json(response).into_response();
            record.served_headers(response.headers_mut(), true);
            record.label(response)
        }
        Err(error) => {
            record.finish(error.status().as_u16(), Some(error.to_string()));
            record.label(error.into_response())
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    record: &mut CallRecord,
) -> Result<EmbeddingResponse, ApiError> {
    let value = crate::body::read_json(headers, body, state.limits.body_limit_bytes).await?;
    if !value.is_object() {
        return Err(ApiError::invalid("the request body must be a JSON object", None));
    }
    let request: EmbeddingRequest = from_json_object(value).map_err(field_error)?;
    record.requested_model = request.model.clone();
    record.principal = record.caller().principal(headers, request.user.as_deref());
    let mut inputs = validate_inputs(&request.input)?;
    if request.dimensions == Some(0) {
        return Err(ApiError::invalid("'dimensions' must be at least 1", Some("dimensions")));
    }
    let mut hints = take_route_hints(headers, &mut serde_json::Map::new())?;
    let model = resolve_target(state, headers, &request.model, ModelKind::Embedding, None, &mut hints, |model| {
        rampart_tokens::Encoding::for_model(&model.upstream_model).count_embedding_input(&request.input)
    })?;
    record.model = Some(model.clone());
    let facts = CallFacts {
        request_id: record.request_id(),
        endpoint: "embeddings",
        requested_model: &request.model,
        stream: false,
        prompt_prefix_hash: None,
    };
    let (decision, decided) = decide_model_call(state, record.caller(), &model, &mut hints, facts).await?;
    record.span.requested(&request.model, &crate::spans::ModelRequestFacts::default());
    if let Some(guardrails) = &state.guardrails {
        let guard = CallGuard::new(guardrails.clone(), switched_on_by(&decision));
        let single = matches!(request.input, EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_));
        let upstream_model = model.upstream_model.clone();
        let (mut guard, screened_inputs, screened) = screen_off_thread(guard, inputs, move |guard, inputs| {
            guard.screen_embedding_inputs(inputs, single, &upstream_model)
        })
        .await
        .ok_or_else(|| ApiError::Internal { request_id: record.request_id().to_owned() })?;
        inputs = screened_inputs;
        record.guardrail_hits(guard.hits.drain(..));
        screened?;
    }
    let call = EmbedCall {
        upstream_model: model.upstream_model.clone(),
        inputs,
        dimensions: request.dimensions,
        user: request.user.clone(),
    };
    record.permit = admit_embeddings(state, &record.principal, &model, &hints, &request.input).await?;
    let decided = crate::decision::before_send(state, decided, &model, &hints).await?;
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let started = Instant::now();
    let context = record.span.context();
    let result =
        opentelemetry::context::FutureExt::with_context(state.router.embed(&model, &call, &hints, deadline), context)
            .await;
    decided.committed().await?;
    let routed = observe_route(state, started, result)?;
    record.served(&routed);
    let model = routed.model.clone();
    let embeddings = routed.value;
    record.usage = Some(Usage::new(embeddings.prompt_tokens, 0));
    let format = request.encoding_format.unwrap_or(EncodingFormat::Float);
    let data = embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingObject {
            object: "embedding".to_owned(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            embedding: encode(vector, format),
        })
        .collect();
    Ok(EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: model.name.clone(),
        usage: EmbeddingUsage { prompt_tokens: embeddings.prompt_tokens, total_tokens: embeddings.prompt_tokens },
    })
}

fn validate_inputs(input: &EmbeddingInput) -> Result<EmbedInputs, ApiError> {
    let inputs = match input {
        EmbeddingInput::Text(text) => EmbedInputs::Texts(vec![text.clone()]),
        EmbeddingInput::Texts(texts) => EmbedInputs::Texts(texts.clone()),
        EmbeddingInput::Tokens(tokens) => EmbedInputs::Tokens(vec![tokens.clone()]),
        EmbeddingInput::TokenBatches(batches) => EmbedInputs::Tokens(batches.clone()),
    };
    if inputs.is_empty() {
        return Err(ApiError::invalid("'input' must not be empty", Some("input")));
    }
    if inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(
            format!("'input' has {} items; the limit is {MAX_INPUTS}", inputs.len()),
            Some("input"),
        ));
    }
    let empty = match &inputs {
        EmbedInputs::Texts(texts) => texts.iter().position(String::is_empty),
        EmbedInputs::Tokens(tokens) => tokens.iter().position(Vec::is_empty),
    };
    if let Some(index) = empty {
        return Err(ApiError::invalid(format!("'input[{index}]' is empty"), Some("input")));
    }
    Ok(inputs)
}

/// Base64 is the little-endian bytes of the f32 values, as OpenAI encodes it.
fn encode(vector: Vec<f32>, format: EncodingFormat) -> EmbeddingVector {
    match format {
        EncodingFormat::Float => EmbeddingVector::Float(vector),
        EncodingFormat::Base64 => {
            let bytes: Vec<u8> = vector.iter().flat_map(|value| value.to_le_bytes()).collect();
            EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        let EmbeddingVector::Base64(text) = encode(vec![1.0, -2.5], EncodingFormat::Base64) else {
            panic!("not base64")
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).unwrap();
        let values: Vec<f32> = bytes.chunks(4).map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap())).collect();
        assert_eq!(values, vec![1.0, -2.5]);
    }

    #[test]
    fn empty_inputs_are_rejected() {
        assert!(validate_inputs(&EmbeddingInput::Texts(vec![])).is_err());
        assert!(validate_inputs(&EmbeddingInput::Texts(vec!["a".into(), "".into()])).is_err());
        assert!(validate_inputs(&EmbeddingInput::Text("a".into())).is_ok());
    }
}
