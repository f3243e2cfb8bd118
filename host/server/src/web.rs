//! The web page and its files, embedded in the binary from `host/server/web/` (no build step,
//! nothing fetched at run time): `GET /` serves `index.html`, `GET /assets/<name>` the others
//! listed in [`ASSETS`]. Add a file there and to the list.
//!
//! The page is plain HTML, CSS and JavaScript modules (`app.js` imports the others):
//!
//! | file | what |
//! |---|---|
//! | `app.js` | entry: the login check, the hash routes (`#/`, `#/cafe/<id>`, `#/new`, `#/orders/<id>`) |
//! | `api.js` | JSON requests, live event streams resumed with `Last-Event-ID` / `?after=` |
//! | `state.js` | cafes, orders and status shared by the views, kept live by `GET /api/events` |
//! | `dom.js` | building elements (text only, never markup) and formatting |
//! | `dashboard.js` | cafes and orders with their live status; registering a repository |
//! | `neworder.js` | the form that creates (and runs) an order |
//! | `order.js` | the order page: state, stages, events, tokens and cost, diff, actions |
//! | `model.js` | an order's stages and costs as its events tell them |
//! | `graph.js` | the stage graph (groups side by side, dependency lines, live states) |
//! | `log.js` | the live event log of the order's stages |
//! | `actions.js` | answer, budget, run, cancel, resume, retry, follow-up, merge |
//! | `diff.js` | the branch's changes |
//!
//! `GET /?token=<token>` is the login: the right token sets the cookie and redirects to `/`
//! without it (so it stays out of the history); a wrong one is refused. Pages may load only
//! this server's own scripts and styles, and no other site may frame them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{Result, ServerError};
use crate::extract::ApiQuery;
use crate::server::Shared;

/// The page.
const INDEX: &str = include_str!("../web/index.html");

/// A JavaScript module of the page, `(name, content type, content)` for [`ASSETS`].
macro_rules! js {
    ($name:literal) => {
        (
            $name,
            "text/javascript; charset=utf-8",
            include_bytes!(concat!("../web/", $name)),
        )
    };
}

/// The page's files: name under `/assets/`, content type, content.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    js!("app.js"),
    js!("api.js"),
    js!("state.js"),
    js!("dom.js"),
    js!("dashboard.js"),
    js!("neworder.js"),
    js!("order.js"),
    js!("model.js"),
    js!("graph.js"),
    js!("log.js"),
    js!("actions.js"),
    js!("diff.js"),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/style.css"),
    ),
];

/// What pages may load: only this server's own files.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The query of `GET /`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexQuery {
    /// The token, to log in.
    token: Option<String>,
}

/// `GET /`: the page, or the login.
pub async fn index(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<IndexQuery>,
) -> Result<Response> {
    if let Some(token) = query.token {
        if !shared.guard.is_token(&token) {
            return Err(ServerError::Unauthorized {
                token_file: crate::auth::token_file(&shared.service),
            });
        }
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
        let cookie = HeaderValue::from_str(&shared.guard.login_cookie())
            .map_err(|err| ServerError::Internal(err.to_string()))?;
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        return Ok(response);
    }
    Ok(file("text/html; charset=utf-8", INDEX.as_bytes()))
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Result<Response> {
    ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .map(|(_, content_type, bytes)| file(content_type, bytes))
        .ok_or(ServerError::NoRoute {
            method: "GET".to_owned(),
            path: format!("/assets/{name}"),
        })
}

fn file(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        bytes,
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
