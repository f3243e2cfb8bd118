//! [`ServerError`]: everything the server can refuse or fail with — starting (the port, the
//! token file), a request (auth, Host, Origin, body, fields), or the service operation behind
//! it — and how each becomes an HTTP answer:
//!
//! ```json
//! {"error": {"message": "<the message the CLI prints>", "kind": "not-found"}}
//! ```
//!
//! `kind` is a kebab-case word a client can branch on: the service's [`ErrorKind`] for service
//! errors, else the server's own (`unauthorized`, `wrong-host`, `foreign-origin`,
//! `body-too-large`, `bad-input`, `busy`, `shutting-down`, …). `field` names the field of a bad
//! request when one is to blame; `problems` lists a not-ready run's checks (as `codecafe run
//! --json` does) or the mistakes of an invalid recipe or skill.

use std::error::Error as _;
use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use codecafe_service::catalog_types::CatalogError;
use codecafe_service::{ErrorKind, ServiceError};
use serde_json::{Value, json};

/// The server's result type.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// Why the server could not start, or refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The service operation behind a request failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A field of the request is missing or malformed.
    #[error("{field}: {message}")]
    BadRequest {
        /// The field (a JSON path such as `vars.x`, a query parameter, or a header).
        field: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The request body could not be read as the JSON the route takes (axum's explanation,
    /// which names the field).
    #[error("{message}")]
    Body {
        /// 400, 413 or 415.
        status: StatusCode,
        /// What is wrong.
        message: String,
    },
    /// No token, or the wrong one.
    #[error(
        "this needs the server's token: open the URL `codecafe serve` printed (it sets a \
         cookie), or send `Authorization: Bearer <token>` (the token is in {})",
        token_file.display()
    )]
    Unauthorized {
        /// Where the token is kept.
        token_file: PathBuf,
    },
    /// The `Host` header is not this server's loopback address (DNS rebinding).
    #[error(
        "Host `{host}` is not this server; use http://127.0.0.1:{port}/ or \
         http://localhost:{port}/ (through an SSH tunnel, forward the same port number)"
    )]
    WrongHost {
        /// The Host given (empty when none was).
        host: String,
        /// The server's port.
        port: u16,
    },
    /// The `Origin` header names another site.
    #[error("requests from origin `{origin}` are refused; only this server's own page may call it")]
    ForeignOrigin {
        /// The Origin given.
        origin: String,
    },
    /// No route has this path.
    #[error("no such resource: {method} {path}; GET /api/openapi.json lists them")]
    NoRoute {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The route exists, not with this method.
    #[error("{method} is not allowed on {path}; GET /api/openapi.json lists the methods")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The most event streams are open already.
    #[error("{max} event streams are open already, the most this server serves; close one")]
    TooManyStreams {
        /// The limit.
        max: usize,
    },
    /// The server is stopping: it starts nothing new.
    #[error("the server is shutting down; nothing new is started")]
    ShuttingDown,
    /// The port could not be had.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The token file could not be read or written.
    #[error("{}: {source}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No random bytes for a token.
    #[error("cannot make a random token: {0}")]
    Random(String),
    /// A thread or the async runtime could not be started.
    #[error("cannot start the server's {what}: {source}")]
    Start {
        /// What (`runtime`, `thread`, …).
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// A worker died (a panic in a service call).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// A [`ServerError::BadRequest`].
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Service(err) => kind_status(err.kind()),
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Body { status, .. } => *status,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::WrongHost { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::ForeignOrigin { .. } => StatusCode::FORBIDDEN,
            Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyStreams { .. } | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Bind { .. }
            | Self::TokenFile { .. }
            | Self::Random(_)
            | Self::Start { .. }
            | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `kind` word of the JSON error.
    pub fn kind(&self) -> String {
        let word = match self {
            Self::Service(err) => return kind_word(err.kind()),
            Self::BadRequest { .. } => "bad-input",
            Self::Body { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
                "body-too-large"
            }
            Self::Body { status, .. } if *status == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "unsupported-media-type"
            }
            Self::Body { .. } => "bad-input",
            Self::Unauthorized { .. } => "unauthorized",
            Self::WrongHost { .. } => "wrong-host",
            Self::ForeignOrigin { .. } => "foreign-origin",
            Self::NoRoute { .. } => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::TooManyStreams { .. } => "busy",
            Self::ShuttingDown => "shutting-down",
            Self::Bind { .. }
            | Self::TokenFile { .. }
            | Self::Random(_)
            | Self::Start { .. }
            | Self::Internal(_) => "internal",
        };
        word.to_owned()
    }

    /// The message: the error and each of its causes, joined by `: ` — what the CLI prints
    /// after `error: `.
    pub fn message(&self) -> String {
        let mut message = self.to_string();
        let mut cause = self.source();
        // `Service` is transparent: its own source is the first cause to add.
        if let Self::Service(err) = self {
            cause = err.source();
        }
        while let Some(err) = cause {
            message.push_str(": ");
            message.push_str(&err.to_string());
            cause = err.source();
        }
        message
    }

    /// The JSON body: `{"error": {"message", "kind", "field"?, "problems"?}}`.
    pub fn body(&self) -> Value {
        let mut error = json!({ "message": self.message(), "kind": self.kind() });
        match self {
            Self::BadRequest { field, .. } => error["field"] = json!(field),
            Self::Service(ServiceError::NotReady { problems }) => {
                error["problems"] = json!(problems);
            }
            Self::Service(ServiceError::Catalog(CatalogError::Invalid { problems })) => {
                error["problems"] = json!(problems);
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

/// The status of a service error of `kind`.
fn kind_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Ambiguous | ErrorKind::BadInput | ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::AlreadyExists
        | ErrorKind::BuiltIn
        | ErrorKind::WrongStatus
        | ErrorKind::Conflict
        | ErrorKind::WouldLoseWork
        | ErrorKind::NotReady => StatusCode::CONFLICT,
        ErrorKind::Untrusted => StatusCode::FORBIDDEN,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `kind` as its JSON word.
fn kind_word(kind: ErrorKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "internal".to_owned())
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "{}", self.message());
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if matches!(self, Self::Unauthorized { .. }) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"codecafe\""),
            );
        }
        response
    }
}
