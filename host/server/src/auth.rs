//! What keeps other web sites and other users out of a server on 127.0.0.1:
//!
//! - **The token**: 32 random bytes as hex, made on the first start in the data directory
//!   (`server-token`, mode 0600) and reused after. `codecafe serve` prints
//!   `http://127.0.0.1:<port>/?token=<token>` once; opening it sets an `HttpOnly;
//!   SameSite=Strict; Path=/` cookie and redirects to `/` without the token. Every `/api/`
//!   request needs that cookie or `Authorization: Bearer <token>` (401 otherwise).
//! - **The Host header** must be `127.0.0.1:<port>` or `localhost:<port>`: a page of another
//!   site whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its own name and
//!   is refused (421).
//! - **The Origin header**, when there is one, must be this server's own origin (403): a
//!   browser names the page that makes a request, and only ours may.
//! - **No CORS headers**, ever: browsers keep other origins from reading any answer.
//! - A body larger than the limit is refused before it is read (413).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use codecafe_service::Service;

use crate::error::{Result, ServerError};
use crate::server::Shared;

/// The token file's name in the data directory.
pub const TOKEN_FILE: &str = "server-token";

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// Where the server's token is kept for `service`'s data.
pub fn token_file(service: &Service) -> PathBuf {
    service.paths().data.join(TOKEN_FILE)
}

/// The token in `path`, or a new one written there (mode 0600) when there is none or it is
/// not a token. Two servers starting at once agree on one: the file appears whole or not at
/// all.
pub fn load_or_create_token(path: &Path) -> Result<String> {
    let fail = |source| ServerError::TokenFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) if is_token(text.trim()) => {
            restrict(path).map_err(fail)?;
            return Ok(text.trim().to_owned());
        }
        Ok(_) => tracing::warn!("{}: not a token; making a new one", path.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(fail(err)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let token = new_token()?;
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    write_private(&temp, &token).map_err(fail)?;
    // A hard link creates the name only if it is free: a token made meanwhile by another
    // server stays, and this one uses it.
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(token),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(fail)?;
            if is_token(text.trim()) {
                Ok(text.trim().to_owned())
            } else {
                // Not a token, and not ours: replace it.
                write_private(&temp, &token).map_err(fail)?;
                std::fs::rename(&temp, path).map_err(fail)?;
                Ok(token)
            }
        }
        Err(err) => Err(fail(err)),
    }
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| ServerError::Random(err.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_token(text: &str) -> bool {
    text.len() == TOKEN_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Makes `path` readable by its owner only (a token file copied with looser rights).
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode != 0o600 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The checks every request goes through.
#[derive(Debug, Clone)]
pub struct Guard {
    token: String,
    port: u16,
    token_file: PathBuf,
}

impl Guard {
    /// The checks for a server on `port` with `token` (kept in `token_file`).
    pub fn new(token: String, port: u16, token_file: PathBuf) -> Self {
        Self {
            token,
            port,
            token_file,
        }
    }

    /// The cookie's name: one per port, so servers of different data directories do not
    /// overwrite each other's (cookies do not tell ports apart).
    pub fn cookie_name(&self) -> String {
        format!("codecafe_token_{}", self.port)
    }

    /// The `Set-Cookie` value that logs a browser in.
    pub fn login_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie_name(),
            self.token
        )
    }

    /// Whether `given` is the token (in time that does not depend on where they differ).
    pub fn is_token(&self, given: &str) -> bool {
        let (a, b) = (given.as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The Host header is this server's.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<()> {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let ours = [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
        ];
        // On port 80 a browser leaves the port out.
        let bare = self.port == 80 && ["127.0.0.1", "localhost"].contains(&host);
        if bare || ours.iter().any(|ours| host.eq_ignore_ascii_case(ours)) {
            Ok(())
        } else {
            Err(ServerError::WrongHost {
                host: host.to_owned(),
                port: self.port,
            })
        }
    }

    /// An Origin header, when given, is this server's own.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<()> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("<not text>");
        let ours = [
            format!("http://127.0.0.1:{}", self.port),
            format!("http://localhost:{}", self.port),
        ];
        if ours.iter().any(|ours| origin.eq_ignore_ascii_case(ours)) {
            Ok(())
        } else {
            Err(ServerError::ForeignOrigin {
                origin: origin.to_owned(),
            })
        }
    }

    /// The request carries the token: as a bearer token or in the cookie.
    pub fn check_token(&self, headers: &HeaderMap) -> Result<()> {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.strip_prefix("Bearer "))
            .any(|token| self.is_token(token.trim()));
        let name = self.cookie_name();
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(key, value)| key == name && self.is_token(value));
        if bearer || cookie {
            Ok(())
        } else {
            Err(ServerError::Unauthorized {
                token_file: self.token_file.clone(),
            })
        }
    }
}

/// The checks, before any route: Host, Origin, body size, and the token under `/api/`.
pub async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match check(&shared, &request) {
        Ok(()) => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => err.into_response(),
    }
}

fn check(shared: &Shared, request: &Request) -> Result<()> {
    let headers = request.headers();
    shared.guard.check_host(headers)?;
    shared.guard.check_origin(headers)?;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit = u64::try_from(shared.config.body_limit).unwrap_or(u64::MAX);
    if length.is_some_and(|length| length > limit) {
        return Err(crate::extract::too_large(shared.config.body_limit));
    }
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        shared.guard.check_token(headers)?;
    }
    Ok(())
}
