//! The browser chat page at `/`: one HTML page, its stylesheet and its script, compiled into
//! the binary so the gateway needs no files on disk, no build step and no network to serve it.
//!
//! The page is a client of the public API (`GET /v1/models`, streaming
//! `POST /v1/chat/completions`) and has no endpoint of its own, so it is left out of the
//! OpenAPI document. Assets carry an `ETag` and `Cache-Control: no-cache`: browsers revalidate
//! on each load and get a `304` until the binary changes. The Content-Security-Policy allows
//! only same-origin scripts, styles and requests: no inline script, no CDN.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

/// One embedded file and how it is served.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    /// The validator is a hash of the bytes, so it changes exactly when a build changes them.
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        // Hex digits in quotes are always a valid header value; the fallback is never used.
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Asset { body, content_type, etag }
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| Asset::new(include_str!("ui/index.html"), "text/html; charset=utf-8"));
static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("ui/app.js"), "text/javascript; charset=utf-8"));
static STYLE: LazyLock<Asset> = LazyLock::new(|| Asset::new(include_str!("ui/style.css"), "text/css; charset=utf-8"));

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes: `/` and the assets it loads from `/ui/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve(&INDEX, &headers) }))
        .route("/ui/app.js", get(|headers: HeaderMap| async move { serve(&SCRIPT, &headers) }))
        .route("/ui/style.css", get(|headers: HeaderMap| async move { serve(&STYLE, &headers) }))
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let unchanged = request.get(header::IF_NONE_MATCH).is_some_and(|value| {
        value.as_bytes().split(|byte| *byte == b',').any(|tag| tag.trim_ascii() == asset.etag.as_bytes())
    });
    let mut response = if unchanged { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(response: &Response, name: header::HeaderName) -> &str {
        response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    #[test]
    fn each_asset_has_its_content_type_and_is_revalidated() {
        for (asset, content_type) in [(&INDEX, "text/html"), (&SCRIPT, "text/javascript"), (&STYLE, "text/css")] {
            let response = serve(asset, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK);
            assert!(header(&response, header::CONTENT_TYPE).starts_with(content_type));
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
            assert!(header(&response, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
        }
    }

    #[test]
    fn a_matching_etag_is_answered_304() {
        let etag = INDEX.etag.clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"stale\""));
        assert_eq!(serve(&INDEX, &request).status(), StatusCode::OK);
        let listed = format!("\"stale\", {}", etag.to_str().unwrap());
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&listed).unwrap());
        assert_eq!(serve(&INDEX, &request).status(), StatusCode::NOT_MODIFIED);
        assert_ne!(INDEX.etag, SCRIPT.etag);
    }

    #[test]
    fn the_page_loads_only_embedded_assets() {
        assert!(INDEX.body.contains(r#"src="/ui/app.js""#));
        assert!(INDEX.body.contains(r#"href="/ui/style.css""#));
        for asset in [&INDEX, &SCRIPT, &STYLE] {
            assert!(!asset.body.contains("http://") && !asset.body.contains("https://"), "no external URL");
        }
        // Model output is untrusted: the script writes it as text, never as markup.
        assert!(!SCRIPT.body.contains("innerHTML") && !SCRIPT.body.contains("insertAdjacentHTML"));
    }
}
