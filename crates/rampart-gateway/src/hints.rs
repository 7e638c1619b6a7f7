//! Routing hints a client sends with a request: privacy mode, data classification and an
//! explicit tier, as `x-rampart-*` headers or in the request's `metadata` object.
//!
//! The `metadata` keys Rampart reads are removed before the request goes upstream, so a
//! classification never leaves the premises with the prompt.

use axum::http::HeaderMap;
use rampart_router::RouteHints;
use serde_json::{Map, Value};

use crate::error::ApiError;

pub const PRIVACY_HEADER: &str = "x-rampart-privacy-mode";
pub const CLASSIFICATION_HEADER: &str = "x-rampart-classification";
pub const TIER_HEADER: &str = "x-rampart-tier";

/// Reads the hints from headers and `metadata` (headers win), removing Rampart's keys from
/// `metadata` (and `metadata` itself when nothing else is left in it).
pub fn take_route_hints(headers: &HeaderMap, extra: &mut Map<String, Value>) -> Result<RouteHints, ApiError> {
    let mut from_metadata = (None, None, None);
    if let Some(Value::Object(metadata)) = extra.get_mut("metadata") {
        from_metadata = (metadata.remove("privacy_mode"), metadata.remove("classification"), metadata.remove("tier"));
        if metadata.is_empty() {
            extra.remove("metadata");
        }
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).map(str::to_owned);
    let metadata_text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        Some(Value::Bool(flag)) => Some(flag.to_string()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    let privacy = header(PRIVACY_HEADER).or_else(|| metadata_text(from_metadata.0));
    let classification = header(CLASSIFICATION_HEADER).or_else(|| metadata_text(from_metadata.1));
    let tier = header(TIER_HEADER).or_else(|| metadata_text(from_metadata.2));
    let privacy_mode = match privacy.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "false" | "0" | "off" | "no") => false,
        Some("true" | "1" | "on" | "yes") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("privacy mode is '{other}': use true or false ({PRIVACY_HEADER} or metadata.privacy_mode)"),
                Some("metadata.privacy_mode"),
            ));
        }
    };
    let tier = match tier.as_deref() {
        None | Some("") => None,
        Some("1") => Some(1),
        Some("2") => Some(2),
        Some(other) => {
            return Err(ApiError::invalid(
                format!("tier is '{other}': use 1 (on-premises) or 2 (cloud) ({TIER_HEADER} or metadata.tier)"),
                Some("metadata.tier"),
            ));
        }
    };
    Ok(RouteHints {
        privacy_mode,
        classification: classification.filter(|text| !text.is_empty()),
        tier,
        alternates: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn extra(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn metadata_hints_are_read_and_removed_before_forwarding() {
        let mut fields = extra(json!({"metadata": {"classification": "secret", "team": "ops", "tier": 1}}));
        let hints = take_route_hints(&HeaderMap::new(), &mut fields).ok();
        assert_eq!(
            hints,
            Some(RouteHints {
                privacy_mode: false,
                classification: Some("secret".into()),
                tier: Some(1),
                alternates: Vec::new()
            })
        );
        assert_eq!(fields.get("metadata"), Some(&json!({"team": "ops"})));

        let mut only_ours = extra(json!({"metadata": {"privacy_mode": true}}));
        let hints = take_route_hints(&HeaderMap::new(), &mut only_ours).ok();
        assert_eq!(hints.map(|hints| hints.privacy_mode), Some(true));
        assert!(only_ours.get("metadata").is_none());
    }

    #[test]
    fn headers_win_and_bad_values_are_named() {
        let mut headers = HeaderMap::new();
        headers.insert(PRIVACY_HEADER, HeaderValue::from_static("on"));
        headers.insert(TIER_HEADER, HeaderValue::from_static("2"));
        let mut fields = extra(json!({"metadata": {"privacy_mode": false}}));
        let hints = take_route_hints(&headers, &mut fields).ok();
        assert_eq!(
            hints,
            Some(RouteHints { privacy_mode: true, classification: None, tier: Some(2), alternates: Vec::new() })
        );

        headers.insert(TIER_HEADER, HeaderValue::from_static("3"));
        let error = take_route_hints(&headers, &mut Map::new()).err().map(|error| error.to_string());
        assert!(error.is_some_and(|message| message.contains("tier is '3'")));
    }
}
