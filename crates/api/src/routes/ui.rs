//! The explorer page: static HTML, CSS and JavaScript embedded in the binary, talking only to
//! the JSON routes of this server (no CDN, no third-party scripts, fonts or styles).
//!
//! `/` is the page; `/ui/{file}` its assets. Every answer carries a strict
//! Content-Security-Policy: scripts, styles and requests stay on this origin, and images come
//! only from here and from Genius's image hosts (song art).

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::error::ApiError;
use crate::params::Segment;

/// One embedded file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under `/ui/`; the page itself is `index.html`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("likes.js", JS),
    asset!("cards.js", JS),
    asset!("browse.js", JS),
    asset!("song.js", JS),
    asset!("artist.js", JS),
    asset!("mylikes.js", JS),
    asset!("model.js", JS),
];

/// Song art is shown only from Genius's own image hosts; any other URL in the data gets the
/// generated placeholder, so a hostile record cannot make browsers call a third party.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https://images.genius.com https://images.rapgenius.com \
     https://t2.genius.com; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Entity tags, one per asset, computed once: browsers revalidate (`no-cache`) and get a 304
/// while the binary is the same.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("\"{:016x}\"", fnv1a(asset.body)))
        .collect()
});

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The routes of the page, merged into the API router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

async fn file(Segment(name): Segment, headers: HeaderMap) -> Result<Response, ApiError> {
    let position = ASSETS
        .iter()
        .position(|asset| asset.name == name)
        .ok_or_else(|| ApiError::NoRoute(format!("/ui/{name}")))?;
    Ok(serve(position, &headers))
}

fn serve(position: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[position];
    let etag = &ETAGS[position];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("a hex entity tag is a valid header"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module paths a script imports, statically (`import ... from "./x.js"`) or
    /// dynamically (`import("./x.js")`).
    fn imports(text: &str) -> Vec<&str> {
        text.split("from \"./")
            .skip(1)
            .chain(text.split("import(\"./").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        let mut seen = 0;
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for target in imports(text) {
                assert!(served.contains(&target), "{} imports {target}", asset.name);
                seen += 1;
            }
        }
        assert!(seen >= ASSETS.len() - 3, "only {seen} imports found");
        for asset in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") && a.name != "app.js")
        {
            let imported = ASSETS
                .iter()
                .any(|a| imports(std::str::from_utf8(a.body).unwrap()).contains(&asset.name));
            assert!(imported, "{} is served but nothing imports it", asset.name);
        }
    }

    #[test]
    fn a_known_asset_is_answered_304_when_the_browser_has_it() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, ETAGS[1].parse().unwrap());
        assert_eq!(serve(1, &headers).status(), StatusCode::NOT_MODIFIED);
        headers.insert(header::IF_NONE_MATCH, "\"other\"".parse().unwrap());
        let response = serve(1, &headers);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            for needle in ["src=\"http", "href=\"http", "url(http", "@import"] {
                assert!(!text.contains(needle), "{} contains {needle}", asset.name);
            }
        }
    }
}
