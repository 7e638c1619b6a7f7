//! Reading request bodies: content type, size limit, UTF-8 and JSON, each with its own error.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;

/// Reads a JSON request body of at most `limit` bytes.
pub async fn read_json(headers: &HeaderMap, body: Body, limit: u64) -> Result<Value, ApiError> {
    check_content_type(headers)?;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        && length > limit
    {
        // Refuse before reading a byte of it.
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = read_limited(body, limit).await?;
    parse_json(&bytes)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        // curl -d without -H and many scripts omit it; the body is still parsed as JSON.
        return Ok(());
    };
    let mime = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") || mime.is_empty() {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            message: format!(
                "Content-Type '{mime}' is not supported: send the body as application/json \
                 (with curl: -H 'content-type: application/json')"
            ),
        })
    }
}

async fn read_limited(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit_usize).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            || error.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::invalid(format!("could not read the request body: {error}"), None)
        }
    })
}

pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("the request body is empty: send a JSON object", None));
    }
    if let Err(error) = std::str::from_utf8(bytes) {
        return Err(ApiError::invalid(
            format!("the request body is not valid UTF-8 (first bad byte at offset {})", error.valid_up_to()),
            None,
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::invalid(
            format!("the request body is not valid JSON: {error} (line {}, column {})", error.line(), error.column()),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_get_distinct_messages() {
        let message = |bytes: &[u8]| parse_json(bytes).unwrap_err().to_string();
        assert!(message(b"").contains("empty"));
        assert!(message(b"{\"model\": \"m\"").contains("not valid JSON"));
        assert!(message(b"{\"model\": \"\xff\"}").contains("UTF-8"));
        assert!(parse_json(b" {\"a\": 1} ").is_ok());
    }
}
