//! The one place where failures become HTTP statuses and OpenAI error JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::BackendError;
use rampart_limits::LimitError;
use rampart_router::RouteError;
use rampart_types::ErrorResponse;

/// Every way a gateway request can fail, with what the client needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<String>, code: Option<&'static str> },
    #[error("{message}")]
    ModelNotFound { message: String },
    #[error("{message}")]
    NotFound { message: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// One uploaded file is over `[retrieval] max_file_bytes`.
    #[error("{message}")]
    FileTooLarge { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("the request did not finish within {secs} s")]
    RequestTimeout { secs: u64 },
    #[error("{message}")]
    Unavailable { message: String, retry_after_secs: u64 },
    /// Shed by backpressure: every candidate backend's queue is full.
    #[error("{message}")]
    Overloaded { message: String, retry_after_secs: u64 },
    /// The request must stay on Tier 1 and the model runs in the cloud; nothing was sent.
    #[error("{message}")]
    Tier1Required { message: String },
    /// Refused by `[[limits]]`: a rate limit, an exhausted budget, or an unreachable ledger.
    #[error("{0}")]
    Limit(#[from] LimitError),
    /// No credentials, or credentials that do not prove who the caller is (401).
    #[error("{message}")]
    Unauthenticated { message: String },
    /// The caller is known but may not do this: a role check or a policy decision (403).
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    /// The audit log could not record a decision, so nothing was done (fail closed).
    #[error("the audit log could not record this request, so it was not carried out: {detail}")]
    AuditUnavailable { detail: String },
    #[error("internal error while handling request {request_id}; the server logged the details")]
    Internal { request_id: String },
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        ApiError::InvalidRequest { message: message.into(), param: param.map(str::to_owned), code: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::ModelNotFound { .. } | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } | ApiError::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Backend(error) => backend_status(error),
            ApiError::RequestTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Tier1Required { .. } => StatusCode::FORBIDDEN,
            ApiError::Limit(LimitError::Ledger(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::AuditUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn to_body(&self) -> ErrorResponse {
        let message = self.to_string();
        match self {
            ApiError::InvalidRequest { param, code, .. } => {
                let body = ErrorResponse::new("invalid_request_error", message).with_param(param.clone());
                match code {
                    Some(code) => body.with_code(*code),
                    None => body,
                }
            }
            ApiError::ModelNotFound { .. } => ErrorResponse::new("invalid_request_error", message)
                .with_param(Some("model".to_owned()))
                .with_code("model_not_found"),
            ApiError::NotFound { .. } => ErrorResponse::new("invalid_request_error", message).with_code("not_found"),
            ApiError::PayloadTooLarge { .. } => {
                ErrorResponse::new("invalid_request_error", message).with_code("request_too_large")
            }
            ApiError::FileTooLarge { .. } => {
                ErrorResponse::new("invalid_request_error", message).with_code("file_too_large")
            }
            ApiError::UnsupportedMediaType { .. } => {
                ErrorResponse::new("invalid_request_error", message).with_code("unsupported_media_type")
            }
            ApiError::Backend(error) => backend_body(error),
            ApiError::RequestTimeout { .. } => {
                ErrorResponse::new("timeout_error", message).with_code("request_timeout")
            }
            ApiError::Unavailable { .. } => ErrorResponse::new("service_unavailable", message),
            ApiError::Overloaded { .. } => {
                ErrorResponse::new("rate_limit_exceeded", message).with_code("rate_limit_exceeded")
            }
            ApiError::Tier1Required { .. } => ErrorResponse::new("invalid_request_error", message)
                .with_param(Some("model".to_owned()))
                .with_code("tier1_required"),
            ApiError::Limit(LimitError::RateLimited { .. }) => {
                ErrorResponse::new("rate_limit_exceeded", message).with_code("rate_limit_exceeded")
            }
            ApiError::Limit(LimitError::QuotaExceeded { .. }) => {
                ErrorResponse::new("insufficient_quota", message).with_code("insufficient_quota")
            }
            ApiError::Limit(LimitError::Ledger(_)) => {
                ErrorResponse::new("service_unavailable", message).with_code("limits_unavailable")
            }
            // OpenAI answers a bad key with this type and code; clients handle it already.
            ApiError::Unauthenticated { .. } => {
                ErrorResponse::new("invalid_request_error", message).with_code("invalid_api_key")
            }
            ApiError::Forbidden { code, .. } => ErrorResponse::new("permission_error", message).with_code(*code),
            ApiError::AuditUnavailable { .. } => {
                ErrorResponse::new("service_unavailable", message).with_code("audit_unavailable")
            }
            ApiError::Internal { .. } => ErrorResponse::new("api_error", message).with_code("internal_error"),
        }
    }
}

fn backend_status(error: &BackendError) -> StatusCode {
    match error {
        BackendError::Unsupported { .. } => StatusCode::BAD_REQUEST,
        BackendError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        // The client can act on rate limits and on its own bad requests as the upstream saw them.
        BackendError::Upstream { status: 429, .. } => StatusCode::TOO_MANY_REQUESTS,
        BackendError::Upstream { status: 400 | 404 | 413 | 422, .. } => StatusCode::BAD_REQUEST,
        BackendError::Upstream { .. } | BackendError::Unreachable { .. } | BackendError::InvalidResponse { .. } => {
            StatusCode::BAD_GATEWAY
        }
    }
}

fn backend_body(error: &BackendError) -> ErrorResponse {
    let message = error.to_string();
    match error {
        BackendError::Unsupported { param, .. } => ErrorResponse::new("invalid_request_error", message)
            .with_param(param.clone())
            .with_code("unsupported_parameter"),
        BackendError::Timeout { .. } => ErrorResponse::new("timeout_error", message).with_code("upstream_timeout"),
        BackendError::Upstream { status: 429, code, .. } => ErrorResponse::new("rate_limit_exceeded", message)
            .with_code(code.clone().unwrap_or_else(|| "rate_limit_exceeded".to_owned())),
        BackendError::Upstream { status: 400 | 404 | 413 | 422, error_type, code, .. } => {
            let body = ErrorResponse::new(error_type.as_deref().unwrap_or("invalid_request_error"), message);
            match code {
                Some(code) => body.with_code(code.clone()),
                None => body.with_code("upstream_rejected_request"),
            }
        }
        BackendError::Upstream { status, .. } => {
            ErrorResponse::new("upstream_error", message).with_code(format!("upstream_status_{status}"))
        }
        BackendError::Unreachable { .. } => {
            ErrorResponse::new("upstream_error", message).with_code("upstream_unreachable")
        }
        BackendError::InvalidResponse { .. } => {
            ErrorResponse::new("upstream_error", message).with_code("upstream_invalid_response")
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> Self {
        let message = error.to_string();
        match error {
            RouteError::Backend(error) => ApiError::Backend(error),
            RouteError::Tier1Required { .. } => ApiError::Tier1Required { message },
            RouteError::Overloaded { retry_after_secs, .. } => ApiError::Overloaded { message, retry_after_secs },
            RouteError::Unavailable { retry_after_secs, .. } => ApiError::Unavailable { message, retry_after_secs },
            RouteError::DeadlineExceeded { secs } => ApiError::RequestTimeout { secs },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::Backend(BackendError::Upstream { retry_after_secs: Some(secs), .. }) => Some(*secs),
            ApiError::AuditUnavailable { .. } => Some(5),
            ApiError::Unavailable { retry_after_secs, .. }
            | ApiError::Overloaded { retry_after_secs, .. }
            | ApiError::Limit(
                LimitError::RateLimited { retry_after_secs, .. } | LimitError::QuotaExceeded { retry_after_secs, .. },
            ) => Some(*retry_after_secs),
            _ => None,
        };
        let limit_reset = match &self {
            ApiError::Limit(
                LimitError::RateLimited { limit, reset_unix, .. } | LimitError::QuotaExceeded { limit, reset_unix, .. },
            ) => Some((limit.clone(), *reset_unix)),
            _ => None,
        };
        let unauthenticated = matches!(self, ApiError::Unauthenticated { .. });
        let mut response = (status, axum::Json(self.to_body())).into_response();
        if unauthenticated {
            // RFC 6750: tell the client which scheme to use.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"rampart\""));
        }
        if let Some(secs) = retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let Some((limit, reset_unix)) = limit_reset {
            // Which limit refused, and when its window resets (Unix seconds).
            if let Ok(value) = HeaderValue::from_str(&limit) {
                response.headers_mut().insert("x-rampart-limit", value);
            }
            response.headers_mut().insert("x-rampart-limit-reset", HeaderValue::from(reset_unix));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_map_to_gateway_statuses() {
        let upstream = |status| {
            ApiError::Backend(BackendError::Upstream {
                backend: "b".into(),
                status,
                message: "m".into(),
                error_type: None,
                code: None,
                retry_after_secs: None,
            })
        };
        assert_eq!(upstream(500).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(upstream(429).status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(upstream(429).to_body().error.kind, "rate_limit_exceeded");
        assert_eq!(upstream(400).status(), StatusCode::BAD_REQUEST);
        let timeout = ApiError::Backend(BackendError::Timeout {
            backend: "b".into(),
            timeout: std::time::Duration::from_secs(1),
        });
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
    }
}
