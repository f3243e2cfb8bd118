//! A small, bounded HTTP/1.1 implementation: request parsing (Content-Length and chunked
//! bodies, `Expect: 100-continue`) and response writing (fixed-length or chunked streaming).

use std::io::{self, BufRead, Read, Write};

/// Largest accepted request head (request line + headers), in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest accepted number of header lines.
pub const MAX_HEADERS: usize = 256;
/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Largest accepted number of chunks in a chunked request body.
pub const MAX_CHUNKS: usize = 1 << 20;

/// A parsed HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string (after `?`), if any.
    pub query: Option<String>,
    /// Protocol version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Decoded body (chunked framing removed).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection should stay open after the response.
    pub fn keep_alive(&self) -> bool {
        let connection = self
            .header("connection")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if self.version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to `\n`, at most `limit` bytes), without the line ending.
/// Returns `None` at end of stream before any byte.
fn read_line<R: BufRead>(reader: &mut R, limit: usize) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n > limit {
            bad("line too long")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("non UTF-8 header line"))
}

/// Reads one request. Returns `Ok(None)` when the peer closed the connection cleanly before
/// sending anything. `interim` receives the `100 Continue` reply when the client expects one.
pub fn read_request<R: BufRead, W: Write>(
    reader: &mut R,
    interim: &mut W,
) -> io::Result<Option<Request>> {
    let mut head_budget = MAX_HEAD_BYTES;
    // Tolerate (a bounded number of) empty lines between pipelined requests.
    let mut request_line = String::new();
    for _ in 0..8 {
        match read_line(reader, head_budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => {
                request_line = line;
                break;
            }
        }
    }
    if request_line.is_empty() {
        return Err(bad("no request line"));
    }
    head_budget = head_budget.saturating_sub(request_line.len() + 2);
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("malformed request line: {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("unsupported version {version}")));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };

    let mut headers = Vec::new();
    loop {
        if headers.len() > MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let line = read_line(reader, head_budget)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in headers"))?;
        head_budget = head_budget
            .checked_sub(line.len() + 2)
            .ok_or_else(|| bad("request head too large"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("malformed header line: {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }

    let mut request = Request {
        method: method.to_string(),
        path,
        query,
        version: version.to_string(),
        headers,
        body: Vec::new(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match request.header("content-length") {
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| bad(format!("bad content-length {v:?}")))?,
        ),
        None => None,
    };
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body
        && request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(n) = length {
        if n > MAX_BODY_BYTES {
            return Err(bad("request body too large"));
        }
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

/// Reads a chunked body (after the head) up to and including the terminating chunk and
/// trailers; the size is bounded by [`MAX_BODY_BYTES`].
pub fn read_chunked<R: BufRead>(reader: &mut R) -> io::Result<Vec<u8>> {
    let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in chunked body");
    let mut body = Vec::new();
    for _ in 0..MAX_CHUNKS {
        let line = read_line(reader, 1024)?.ok_or_else(eof)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers until an empty line.
            for _ in 0..MAX_HEADERS {
                let trailer = read_line(reader, MAX_HEAD_BYTES)?.ok_or_else(eof)?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
            return Err(bad("too many trailers"));
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(bad("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let end = read_line(reader, 2)?.ok_or_else(eof)?;
        if !end.is_empty() {
            return Err(bad("missing CRLF after chunk"));
        }
    }
    Err(bad("too many chunks"))
}

/// The reason phrase for common status codes.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn write_head<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(String, String)],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(if keep_alive {
        "connection: keep-alive\r\n"
    } else {
        "connection: close\r\n"
    });
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
}

/// Writes a complete fixed-length response. With `head_only` the body is omitted (for `HEAD`).
pub fn write_response<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut all = headers.to_vec();
    all.push(("content-length".into(), body.len().to_string()));
    write_head(w, status, &all, keep_alive)?;
    if !head_only {
        w.write_all(body)?;
    }
    w.flush()
}

/// A response streamed with `Transfer-Encoding: chunked` (used for SSE).
pub struct ChunkedResponse<'a, W: Write> {
    w: &'a mut W,
}

impl<'a, W: Write> ChunkedResponse<'a, W> {
    /// Writes the status line and headers.
    pub fn start(
        w: &'a mut W,
        status: u16,
        headers: &[(String, String)],
        keep_alive: bool,
    ) -> io::Result<Self> {
        let mut all = headers.to_vec();
        all.push(("transfer-encoding".into(), "chunked".into()));
        write_head(w, status, &all, keep_alive)?;
        w.flush()?;
        Ok(ChunkedResponse { w })
    }

    /// Writes and flushes one chunk (empty data is skipped: it would end the body).
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.w, "{:x}\r\n", data.len())?;
        self.w.write_all(data)?;
        self.w.write_all(b"\r\n")?;
        self.w.flush()
    }

    /// Writes the terminating chunk.
    pub fn finish(self) -> io::Result<()> {
        self.w.write_all(b"0\r\n\r\n")?;
        self.w.flush()
    }
}

/// Decodes a chunked body from bytes (a test and client helper).
pub fn decode_chunked(data: &[u8]) -> io::Result<Vec<u8>> {
    read_chunked(&mut io::Cursor::new(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> io::Result<Option<Request>> {
        let mut sink = Vec::new();
        read_request(&mut io::Cursor::new(raw), &mut sink)
    }

    #[test]
    fn content_length_body_and_query() -> io::Result<()> {
        let req = parse(b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcdEXTRA")?
            .ok_or_else(|| bad("none"))?;
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/messages");
        assert_eq!(req.query.as_deref(), Some("beta=true"));
        assert_eq!(req.header("host"), Some("x"));
        assert_eq!(req.body, b"abcd");
        assert!(req.keep_alive());
        Ok(())
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() -> io::Result<()> {
        let req = parse(
            b"POST /v1/responses HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n",
        )?
        .ok_or_else(|| bad("none"))?;
        assert_eq!(req.body, b"abcde");
        assert!(!req.keep_alive());
        Ok(())
    }

    #[test]
    fn clean_eof_is_none_and_garbage_is_error() {
        assert!(matches!(parse(b""), Ok(None)));
        assert!(parse(b"GARBAGE\r\n\r\n").is_err());
        assert!(parse(b"GET / HTTP/2\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }

    #[test]
    fn oversized_head_is_rejected() {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        raw.extend_from_slice(b"\r\n\r\n");
        assert!(parse(&raw).is_err());
    }

    #[test]
    fn expect_continue_gets_interim_reply() -> io::Result<()> {
        let mut sink = Vec::new();
        let raw = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
        let req = read_request(&mut io::Cursor::new(&raw[..]), &mut sink)?;
        assert_eq!(req.map(|r| r.body), Some(b"ok".to_vec()));
        assert_eq!(sink, b"HTTP/1.1 100 Continue\r\n\r\n");
        Ok(())
    }

    #[test]
    fn chunked_response_round_trip() -> io::Result<()> {
        let mut out = Vec::new();
        let mut resp = ChunkedResponse::start(&mut out, 200, &[], true)?;
        resp.chunk(b"hello ")?;
        resp.chunk(b"")?;
        resp.chunk(b"world")?;
        resp.finish()?;
        let text = String::from_utf8_lossy(&out).to_string();
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("no head"))?;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("transfer-encoding: chunked"));
        assert_eq!(decode_chunked(body.as_bytes())?, b"hello world");
        Ok(())
    }
}
