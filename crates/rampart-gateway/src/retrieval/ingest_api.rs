//! `POST /ingest`: files as `multipart/form-data` (`curl -F file=@report.pdf`), or JSON
//! `{"documents": [{"name", "text" | "content_base64"}]}`. Options come from the query string
//! or from form fields placed before the files: `scope`, `kind`, `ttl_secs`, `session`.
//!
//! Each file succeeds or fails on its own; the answer lists every file. When every file
//! failed, the answer is the first failure as an error with its status.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rampart_core::{MemoryKind, MemoryScope, Owner, Provenance};
use rampart_retrieval::{IngestRequest, Ingested};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    Retrieval, SESSION_HEADER, enabled as retrieval, expiry_after, ingest_failure, owner_for, parse_kind, parse_scope,
};
use crate::audit::event;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Files one request may carry.
const MAX_FILES: usize = 1_000;
/// Longest accepted option value in a form field.
const MAX_OPTION_BYTES: usize = 256;

/// Options for every file of the request.
#[derive(Debug, Default, Clone, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IngestOptions {
    /// `global`, `tenant`, `user` or `session`. Default: `tenant` for operators and admins,
    /// `user` for everyone else.
    pub scope: Option<String>,
    /// `fact` (default), `preference`, `episodic`, `trace` or `policy` (operators only).
    pub kind: Option<String>,
    /// Delete the documents this many seconds from now.
    pub ttl_secs: Option<u64>,
    /// The session of `session`-scoped documents (or the `x-rampart-session` header).
    pub session: Option<String>,
}

/// One JSON document: `text`, or the file's bytes as `content_base64`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonDocument {
    pub name: String,
    pub text: Option<String>,
    pub content_base64: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonIngestRequest {
    pub documents: Vec<JsonDocument>,
    pub scope: Option<String>,
    pub kind: Option<String>,
    pub ttl_secs: Option<u64>,
    pub session: Option<String>,
}

impl JsonIngestRequest {
    fn options(&self) -> IngestOptions {
        IngestOptions {
            scope: self.scope.clone(),
            kind: self.kind.clone(),
            ttl_secs: self.ttl_secs,
            session: self.session.clone(),
        }
    }
}

/// What happened to one file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    pub name: String,
    /// `ingested`, `duplicate` (the same bytes were there already) or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    /// OpenAI's error object, for `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    pub object: &'static str,
    pub data: Vec<FileResult>,
    pub ingested: usize,
    pub duplicates: usize,
    pub failed: usize,
}

/// The options resolved against the caller.
struct Resolved {
    owner: Owner,
    kind: MemoryKind,
    expires_unix_ms: Option<i64>,
}

/// Resolves the options and asks the policy whether the caller may write there.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    options: &IngestOptions,
    request_id: &str,
) -> Result<Resolved, ApiError> {
    let scope: Option<MemoryScope> = options.scope.as_deref().map(parse_scope).transpose()?;
    let kind = options.kind.as_deref().map(parse_kind).transpose()?.unwrap_or(MemoryKind::Fact);
    let header_session = headers.get(SESSION_HEADER).and_then(|value| value.to_str().ok());
    let session = options.session.as_deref().or(header_session);
    let owner = owner_for(&caller.0, scope, session, kind)?;
    let expires_unix_ms = expiry_after(options.ttl_secs)?;
    crate::decision::decide_memory_write(state, caller, &owner, request_id, "/ingest").await?;
    Ok(Resolved { owner, kind, expires_unix_ms })
}

#[utoipa::path(
    post,
    path = "/ingest",
    tag = "retrieval",
    params(IngestOptions),
    request_body(content = JsonIngestRequest, description = "JSON documents, or multipart/form-data files"),
    responses(
        (status = 200, description = "Per-file results (some may have failed)", body = IngestResponse),
        (status = 400, description = "Bad request, or every file was refused", body = rampart_types::ErrorResponse),
        (status = 403, description = "The caller may not write this scope or kind", body = rampart_types::ErrorResponse),
        (status = 413, description = "The only file is over [retrieval] max_file_bytes", body = rampart_types::ErrorResponse),
        (status = 503, description = "Retrieval is off, or the embedding model or index is unavailable", body = rampart_types::ErrorResponse),
    )
)]
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    Query(query_options): Query<IngestOptions>,
    request: Request,
) -> Response {
    match handle(&state, &caller, &request_id.0, query_options, request).await {
        Ok(response) => axum::Json(response).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &Arc<AppState>,
    caller: &Caller,
    request_id: &str,
    query_options: IngestOptions,
    request: Request,
) -> Result<IngestResponse, ApiError> {
    let retrieval = retrieval(state)?.clone();
    let headers = request.headers().clone();
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut results: Vec<(FileResult, Option<ApiError>)> = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
        let form = Form { state, caller, headers: &headers, request_id };
        ingest_multipart(&retrieval, form, query_options, multipart, &mut results).await?;
    } else {
        let limit = retrieval.settings.max_file_bytes.saturating_mul(2).max(state.limits.body_limit_bytes);
        let value = crate::body::read_json(&headers, request.into_body(), limit).await?;
        let body: JsonIngestRequest = serde_json::from_value(value).map_err(|error| {
            ApiError::invalid(format!("the body is not an ingest request: {error}"), Some("documents"))
        })?;
        if query_options.scope.is_some() || query_options.kind.is_some() {
            return Err(ApiError::invalid("give options in the JSON body or the query string, not both", None));
        }
        let resolved = resolve(state, caller, &headers, &body.options(), request_id).await?;
        if body.documents.len() > MAX_FILES {
            return Err(ApiError::invalid(format!("at most {MAX_FILES} documents per request"), Some("documents")));
        }
        for (position, document) in body.documents.into_iter().enumerate() {
            let bytes = match (document.text, document.content_base64) {
                (Some(text), None) => Ok(text.into_bytes()),
                (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|error| ApiError::invalid(format!("content_base64 is not base64: {error}"), None)),
                _ => Err(ApiError::invalid(
                    format!("documents[{position}] needs exactly one of \"text\" and \"content_base64\""),
                    Some("documents"),
                )),
            };
            let result = match bytes {
                Ok(bytes) => ingest_one(&retrieval, caller, &resolved, document.name.clone(), bytes, request_id).await,
                Err(error) => Err(error),
            };
            results.push(file_result(document.name, result));
        }
    }
    finish(state, caller, request_id, results).await
}

/// Who sends a multipart request, and how.
struct Form<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    headers: &'a HeaderMap,
    request_id: &'a str,
}

async fn ingest_multipart(
    retrieval: &Retrieval,
    form: Form<'_>,
    mut options: IngestOptions,
    mut multipart: Multipart,
    results: &mut Vec<(FileResult, Option<ApiError>)>,
) -> Result<(), ApiError> {
    let Form { state, caller, headers, request_id } = form;
    let limit = retrieval.settings.max_file_bytes;
    let mut resolved: Option<Resolved> = None;
    let malformed = |error: axum::extract::multipart::MultipartError| {
        ApiError::invalid(format!("the multipart body is malformed: {}", error.body_text()), None)
    };
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let field_name = field.name().unwrap_or("").to_owned();
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            if resolved.is_some() {
                return Err(ApiError::invalid(
                    format!("form field `{field_name}` comes after a file: put options before the files"),
                    Some(&field_name),
                ));
            }
            let mut value = Vec::new();
            while let Some(bytes) = field.chunk().await.map_err(malformed)? {
                value.extend_from_slice(&bytes);
                if value.len() > MAX_OPTION_BYTES {
                    return Err(ApiError::invalid(format!("form field `{field_name}` is too long"), Some(&field_name)));
                }
            }
            let value = String::from_utf8(value)
                .map_err(|_| ApiError::invalid(format!("form field `{field_name}` is not UTF-8"), Some(&field_name)))?;
            set_option(&mut options, &field_name, value)?;
            continue;
        };
        if results.len() >= MAX_FILES {
            return Err(ApiError::invalid(format!("at most {MAX_FILES} files per request"), None));
        }
        if resolved.is_none() {
            resolved = Some(resolve(state, caller, headers, &options, request_id).await?);
        }
        let Some(resolved) = resolved.as_ref() else { continue };
        // Read at most one byte over the limit, then drain the rest so the next file is read.
        let mut bytes = Vec::new();
        let mut size = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            size = size.saturating_add(chunk.len() as u64);
            if size <= limit {
                bytes.extend_from_slice(&chunk);
            } else if !bytes.is_empty() {
                bytes = Vec::new();
            }
        }
        let result = if size > limit {
            Err(ApiError::FileTooLarge { message: rampart_ingest::ParseError::TooLarge { size, limit }.to_string() })
        } else {
            ingest_one(retrieval, caller, resolved, file_name.clone(), bytes, request_id).await
        };
        results.push(file_result(file_name, result));
    }
    Ok(())
}

fn set_option(options: &mut IngestOptions, name: &str, value: String) -> Result<(), ApiError> {
    match name {
        "scope" => options.scope = Some(value),
        "kind" => options.kind = Some(value),
        "session" => options.session = Some(value),
        "ttl_secs" => {
            let secs = value.trim().parse().map_err(|_| {
                ApiError::invalid(format!("ttl_secs `{value}` is not a whole number"), Some("ttl_secs"))
            })?;
            options.ttl_secs = Some(secs);
        }
        other => {
            return Err(ApiError::invalid(
                format!("unknown form field `{other}`: use scope, kind, ttl_secs, session, and file fields"),
                Some(other),
            ));
        }
    }
    Ok(())
}

async fn ingest_one(
    retrieval: &Retrieval,
    caller: &Caller,
    resolved: &Resolved,
    name: String,
    bytes: Vec<u8>,
    request_id: &str,
) -> Result<Ingested, ApiError> {
    let mut request = IngestRequest::file(name, bytes, resolved.owner.clone(), resolved.kind);
    request.expires_unix_ms = resolved.expires_unix_ms;
    request.provenance =
        Provenance { author: Some(caller.actor()), request_id: Some(request_id.to_owned()), ..Provenance::default() };
    retrieval.ingestor.ingest(request).await.map_err(ingest_failure)
}

fn file_result(name: String, result: Result<Ingested, ApiError>) -> (FileResult, Option<ApiError>) {
    match result {
        Ok(ingested) => (
            FileResult {
                name,
                status: if ingested.duplicate { "duplicate" } else { "ingested" },
                document_id: Some(ingested.document_id),
                hash: Some(ingested.hash),
                format: Some(ingested.format),
                chunks: Some(ingested.chunks),
                error: None,
            },
            None,
        ),
        Err(error) => {
            let body = serde_json::to_value(error.to_body())
                .ok()
                .and_then(|mut value| value.get_mut("error").map(serde_json::Value::take));
            (
                FileResult {
                    name,
                    status: "failed",
                    document_id: None,
                    hash: None,
                    format: None,
                    chunks: None,
                    error: body,
                },
                Some(error),
            )
        }
    }
}

/// Audits what was written, then answers: the list, or the first error when all failed.
async fn finish(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    results: Vec<(FileResult, Option<ApiError>)>,
) -> Result<IngestResponse, ApiError> {
    if results.is_empty() {
        return Err(ApiError::invalid(
            "no files: send multipart/form-data with file fields (curl -F file=@doc.pdf) or JSON {\"documents\": [...]}",
            None,
        ));
    }
    let written: Vec<serde_json::Value> = results
        .iter()
        .filter(|(result, _)| result.status == "ingested")
        .map(|(result, _)| json!({ "name": result.name, "document_id": result.document_id, "hash": result.hash }))
        .collect();
    if !written.is_empty() {
        state
            .audit
            .record(event(
                "memory",
                Some(caller.0.tenant_id.clone()),
                Some(caller.actor()),
                Some(request_id.to_owned()),
                json!({ "action": "document.ingest", "documents": written }),
            ))
            .await?;
    }
    let failed = results.iter().filter(|(result, _)| result.status == "failed").count();
    if failed == results.len() {
        if let Some((_, Some(error))) = results.into_iter().next() {
            return Err(error);
        }
        return Err(ApiError::invalid("every file failed", None));
    }
    let duplicates = results.iter().filter(|(result, _)| result.status == "duplicate").count();
    let data: Vec<FileResult> = results.into_iter().map(|(result, _)| result).collect();
    Ok(IngestResponse { object: "list", ingested: data.len() - failed - duplicates, duplicates, failed, data })
}
