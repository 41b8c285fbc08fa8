//! The browser UI: one static page, embedded in the binary, that talks to the JSON routes.

use axum::response::Html;

const INDEX_HTML: &str = include_str!("ui/index.html");

pub(crate) async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}
