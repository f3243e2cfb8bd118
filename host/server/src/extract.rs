//! Request extractors whose refusals are JSON errors like every other: [`ApiJson`] (a JSON
//! body; an empty body reads as `{}`, so routes whose fields are all optional take none) and
//! [`ApiQuery`] (the query string). A body larger than the limit is 413, one that is not JSON
//! 415, JSON that does not fit 400 with axum's message naming the field (`answer: invalid
//! type: …`, ``missing field `prompt` ``).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ServerError;

/// A JSON request body read as `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ServerError::Body {
                status: rejection.status(),
                message: rejection.body_text(),
            })?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else if json_type == Some(true) {
            bytes
        } else {
            return Err(ServerError::Body {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "the request body must be JSON, sent with `Content-Type: \
                          application/json`"
                    .to_owned(),
            });
        };
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ServerError::Body {
                // A body that does not fit the fields is a bad request, like any other.
                status: StatusCode::BAD_REQUEST,
                message: rejection.body_text(),
            }),
        }
    }
}

/// The query string read as `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ServerError::Body {
                status: StatusCode::BAD_REQUEST,
                message: rejection.body_text(),
            })
    }
}

/// The refusal of a body larger than `limit` bytes.
pub fn too_large(limit: usize) -> ServerError {
    ServerError::Body {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "the request body is larger than {limit} bytes, the most this server reads"
        ),
    }
}
