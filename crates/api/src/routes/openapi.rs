//! The OpenAPI document's frame; its paths and schemas come from the handlers registered in
//! `routes::api_routes`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "songrec",
        description = "Song recommendations from the champion model. Every error is JSON `{\"error\": \"...\"}` with a real status; unknown or repeated query parameters are refused (400); bodies are limited to 64 KiB (413); under overload, requests other than /health, /ready and /metrics are answered 503 with Retry-After."
    ),
    modifiers(&BearerAuth)
)]
pub(crate) struct ApiDoc;

/// The admin token scheme of `POST /admin/reload`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
