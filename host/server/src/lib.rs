//! # codecafe-server
//!
//! codecafe's local HTTP API and web view (`codecafe serve`): the seeds' IPC table — cafes,
//! recipes, skills, roles, orders and their operations — as REST resources with JSON in and
//! out (camelCase keys), every order's events as server-sent events resumable by the store's
//! event sequence numbers, an OpenAPI document at `GET /api/openapi.json`, and a page embedded
//! in the binary at `/`.
//!
//! It is a front end like the CLI: every route makes calls to `codecafe-service` (blocking
//! calls on tokio's blocking pool) and turns the result or the error into JSON. Orders started
//! through the API (`execute`, `input`, `retry`, `resume`, `followup`, `run`) run on
//! background threads of the server process, under the service's shutdown token: stopping the
//! server stops them the way SIGTERM stops a CLI run — agents killed, the order left
//! `running` with an `order:interrupted` event, `order resume` continues it.
//!
//! It listens on 127.0.0.1 only and protects itself like a local notebook server: a random
//! token kept in the data directory (mode 0600), given once as `/?token=…` and then held in
//! an `HttpOnly; SameSite=Strict` cookie, or sent as `Authorization: Bearer …`; the `Host`
//! header must be this server's loopback address (DNS rebinding); an `Origin` header must be
//! its own; no CORS headers are ever sent.
//!
//! | module | what |
//! |---|---|
//! | [`server`] | [`ServerConfig`], [`start`]: bind, serve on a background runtime, shut down cleanly |
//! | [`routes`] | the router, and the table of its routes ([`routes::routed`]) |
//! | [`api`] | the handlers, one module per resource |
//! | [`auth`] | the token file, the Host / Origin / token checks, the login cookie |
//! | [`runs`] | orders running on background threads, and waiting for them at shutdown |
//! | [`hub`] | one poller of the event store, fanning events out to every stream |
//! | [`sse`] | an event stream: stored events after a sequence number, then live ones |
//! | [`extract`] | JSON body and query extractors whose refusals are JSON errors |
//! | [`web`] | the embedded page and static files (`host/server/web/`) |
//! | [`openapi`] | the OpenAPI document (`host/server/openapi*.yaml`, served as JSON) |
//! | [`error`] | [`ServerError`] and how each error becomes an HTTP answer |

// The service's error is large (it carries what its messages name); boxing it in every
// closure handed to the blocking pool would only add noise: it is moved once per request.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod hub;
pub mod openapi;
pub mod routes;
pub mod runs;
pub mod server;
pub mod sse;
pub mod web;

pub use error::{Result, ServerError};
pub use server::{RunningServer, ServerConfig, ShutdownReport, Stopper, start};
