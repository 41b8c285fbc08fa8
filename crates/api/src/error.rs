//! The one error type of every route: a status and a JSON body `{"error": "..."}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("no model is loaded yet")]
    NoModel,
    #[error("no song at index {0}")]
    UnknownIndex(String),
    #[error("no song with id {0}")]
    UnknownSong(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("no route for {0}")]
    NoRoute(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(f64),
    #[error("no artist with id {0}")]
    UnknownArtist(u64),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("the server is busy; retry in {0} s")]
    Overloaded(u64),
    #[error("{0}")]
    Unavailable(String),
    #[error("this server has no pipeline record: it was started without the catalogue database")]
    NoPipeline,
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    #[schema(example = "k must be between 1 and 100")]
    pub error: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoModel
            | ApiError::Timeout(_)
            | ApiError::Overloaded(_)
            | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnknownIndex(_)
            | ApiError::UnknownSong(_)
            | ApiError::UnknownArtist(_)
            | ApiError::NoPipeline
            | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Rejected { status, .. } => *status,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Overloaded(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The rest of the body may still come: the connection cannot be reused.
            ApiError::BodyTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}
