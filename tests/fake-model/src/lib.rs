//! A scripted fake model server for end-to-end tests of codecafe's agent adapters.
//!
//! It speaks just enough of the Anthropic Messages API (`POST /v1/messages`, streaming SSE
//! or plain JSON, plus `count_tokens`) and the OpenAI Responses API (`POST /v1/responses`) to
//! drive the real `claude` and `codex` CLIs offline: each model request is answered by the next
//! scripted [`Turn`] of a [`Script`], and every request is recorded so tests can assert on what
//! the agent sent (e.g. that a resumed session carries the user's answer). Replies can name the
//! agent's working directory as `${CWD}`: the server reads it from each request ([`workdir`]).
//!
//! ```no_run
//! use codecafe_fake_model::{FakeModel, Script, Turn};
//!
//! let script = Script { anthropic: vec![Turn::text("Hello from the fake model.")], ..Script::default() };
//! let server = FakeModel::start(script)?;
//! // run `claude -p ...` with ANTHROPIC_BASE_URL = server.base_url()
//! let requests = server.requests();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The HTTP/1.1 server is std-only: one thread accepts, one thread per connection (capped),
//! keep-alive, `Content-Length` and chunked request bodies, chunked SSE responses, read/write
//! timeouts on every socket and bounded loops everywhere.

pub mod anthropic;
pub mod http;
pub mod ids;
pub mod openai;
pub mod script;
pub mod server;
pub mod sse;
pub mod workdir;

pub use script::{Block, ErrorReply, Script, Turn, Usage};
pub use server::{Api, FakeModel, RecordedRequest, Served, ServerOptions};
