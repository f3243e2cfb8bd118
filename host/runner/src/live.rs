//! Live terminals: how other processes reach an interactive stage's agent while the codecafe
//! running it lives — `order attach` (watch and type), `order input` (type an answer) and
//! `order approve` / `deny` (answer a permission dialog).
//!
//! The stage's worker listens on a Unix socket in the data directory's `live/` folder (mode
//! 0700), named after the order and stage ([`socket_path`]); the socket is removed when the
//! stage ends. Messages are frames: one kind byte, a big-endian `u32` length, the payload (at
//! most [`MAX_FRAME`] bytes). A client first sends a [`Hello`]; then:
//!
//! | from | kind | payload |
//! |---|---|---|
//! | client | `K` | keys for the agent (only from the viewer holding the keyboard) |
//! | client | `R` | a resize, JSON `{cols, rows}` (from the keyboard's holder) |
//! | client | `T` | text to type as the answer to the agent's question (`order input`) |
//! | client | `D` | a decision on the permission dialog, JSON [`DecisionMsg`] |
//! | worker | `S` | the scrollback and screen so far (first, to a viewer) |
//! | worker | `O` | the agent's output as it comes |
//! | worker | `N` | a notice for the viewer (who holds the keyboard) |
//! | worker | `A` / `E` | the answer to `T` / `D`: done, or why not |
//! | worker | `X` | the agent's terminal is gone |
//!
//! **The keyboard.** Several viewers may watch at once; the first one to attach holds the
//! keyboard until it detaches, then the longest-attached viewer gets it. Keys from the others
//! are dropped (they are told so). While a viewer holds it, `order input` is refused naming that
//! viewer's process. Every read and write is bounded: a viewer that stops reading for
//! [`WRITE_TIMEOUT`] is dropped.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest frame accepted.
pub const MAX_FRAME: usize = 1 << 20;
/// How long a write to a viewer may block before the viewer is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a client waits for the worker's answer to `T` or `D`.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// What a client comes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Watch the terminal (and type, holding the keyboard).
    Attach,
    /// Answer the agent's question or dialog.
    Answer,
}

/// A client's first frame (`H`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    /// What it comes for.
    pub role: Role,
    /// Its process id, named to others while it holds the keyboard.
    pub pid: u32,
    /// Its terminal's size, when it has one.
    pub cols: Option<u16>,
    /// Its terminal's rows.
    pub rows: Option<u16>,
}

/// A decision on the permission dialog (`D`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionMsg {
    /// The approval the client decides (checked against the one the stage waits on).
    pub approval_id: i64,
    /// The decision.
    pub decision: codecafe_store::Decision,
    /// A denial's reason.
    pub reason: Option<String>,
}

/// A terminal size (`R`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Size {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// Writes one frame.
pub fn write_frame(out: &mut impl Write, kind: u8, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len().min(MAX_FRAME)).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(kind);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&payload[..payload.len().min(MAX_FRAME)]);
    out.write_all(&frame)?;
    out.flush()
}

/// Reads one frame; `None` at end of input.
pub fn read_frame(input: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match input.read_exact(&mut head) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// The socket of `order`'s stage `stage` in `dir`: the order's id and a hash of the stage id,
/// short enough for the 108-byte limit of socket paths.
pub fn socket_path(dir: &Path, order: Uuid, stage: &str) -> PathBuf {
    // FNV-1a: stable across builds, no dependency.
    let hash = stage.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    dir.join(format!("{}.{:08x}.sock", order.simple(), hash as u32))
}

/// A message from a client, as the worker sees it.
#[derive(Debug)]
pub(crate) enum ClientMsg {
    Joined { hello: Hello, writer: UnixStream },
    Keys(Vec<u8>),
    Resize(Size),
    Text(String),
    Decide(DecisionMsg),
    Left,
}

/// A connected client, on the worker's side.
struct Client {
    id: u64,
    hello: Hello,
    writer: UnixStream,
}

/// The worker's end: accepts clients on the socket and hands their messages over.
pub(crate) struct LiveServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    incoming: Receiver<(u64, ClientMsg)>,
    clients: Vec<Client>,
    holder: Option<u64>,
}

impl std::fmt::Debug for LiveServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveServer")
            .field("path", &self.path)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl LiveServer {
    /// Listens at `path` (its folder created with mode 0700; a stale socket replaced).
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, incoming) = mpsc::channel();
        let stop_in_thread = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("live-accept".to_owned())
            .spawn(move || accept(&listener, &stop_in_thread, &tx))?;
        Ok(Self {
            path,
            stop,
            incoming,
            clients: Vec::new(),
            holder: None,
        })
    }

    /// The next client message, if one is waiting. `Joined` is handled here (the client is
    /// registered, told who holds the keyboard) and also returned so the worker can replay the
    /// screen and resize.
    pub(crate) fn try_next(&mut self) -> Option<(u64, ClientMsg)> {
        let (id, message) = self.incoming.try_recv().ok()?;
        match &message {
            ClientMsg::Joined { hello, writer } => {
                if let Ok(writer) = writer.try_clone() {
                    let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
                    self.clients.push(Client {
                        id,
                        hello: hello.clone(),
                        writer,
                    });
                }
                if hello.role == Role::Attach && self.holder.is_none() {
                    self.holder = Some(id);
                }
            }
            ClientMsg::Left => self.forget(id),
            _ => {}
        }
        Some((id, message))
    }

    /// The viewer holding the keyboard: its id and process id.
    pub(crate) fn holder(&self) -> Option<(u64, u32)> {
        let id = self.holder?;
        self.clients
            .iter()
            .find(|c| c.id == id)
            .map(|c| (id, c.hello.pid))
    }

    /// Sends a frame to one client; a client that cannot take it is dropped.
    pub(crate) fn send(&mut self, id: u64, kind: u8, payload: &[u8]) {
        let failed = self
            .clients
            .iter_mut()
            .find(|c| c.id == id)
            .is_some_and(|c| write_frame(&mut c.writer, kind, payload).is_err());
        if failed {
            self.forget(id);
        }
    }

    /// Sends a frame to every viewer.
    pub(crate) fn broadcast(&mut self, kind: u8, payload: &[u8]) {
        let viewers: Vec<u64> = self
            .clients
            .iter()
            .filter(|c| c.hello.role == Role::Attach)
            .map(|c| c.id)
            .collect();
        for id in viewers {
            self.send(id, kind, payload);
        }
    }

    /// Tells a viewer whether it holds the keyboard.
    pub(crate) fn tell_keyboard(&mut self, id: u64) {
        let notice = match self.holder() {
            Some((holder, _)) if holder == id => {
                "attached: you hold the keyboard; Ctrl-] detaches (the agent keeps running)"
                    .to_owned()
            }
            Some((_, pid)) => format!(
                "attached, watching only: the keyboard is held by `codecafe order attach` (pid \
                 {pid}); Ctrl-] detaches"
            ),
            None => "attached".to_owned(),
        };
        self.send(id, b'N', notice.as_bytes());
    }

    fn forget(&mut self, id: u64) {
        self.clients.retain(|c| c.id != id);
        if self.holder == Some(id) {
            self.holder = self
                .clients
                .iter()
                .find(|c| c.hello.role == Role::Attach)
                .map(|c| c.id);
            if let Some(next) = self.holder {
                self.tell_keyboard(next);
            }
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.broadcast(b'X', b"the agent's terminal is gone");
        for client in &self.clients {
            let _ = client.writer.shutdown(std::net::Shutdown::Both);
        }
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.path);
        // Wakes the accept thread so it sees the stop.
        let _ = UnixStream::connect(&self.path);
    }
}

fn accept(listener: &UnixListener, stop: &AtomicBool, tx: &Sender<(u64, ClientMsg)>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = stream else { continue };
        next_id += 1;
        let id = next_id;
        let tx = tx.clone();
        let _ = std::thread::Builder::new()
            .name("live-client".to_owned())
            .spawn(move || serve_client(id, stream, &tx));
    }
}

/// Reads one client's frames until it leaves.
fn serve_client(id: u64, mut stream: UnixStream, tx: &Sender<(u64, ClientMsg)>) {
    let _ = stream.set_read_timeout(Some(HELLO_TIMEOUT));
    let hello = match read_frame(&mut stream) {
        Ok(Some((b'H', payload))) => serde_json::from_slice::<Hello>(&payload).ok(),
        _ => None,
    };
    let Some(hello) = hello else { return };
    let _ = stream.set_read_timeout(None);
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    if tx.send((id, ClientMsg::Joined { hello, writer })).is_err() {
        return;
    }
    loop {
        let message = match read_frame(&mut stream) {
            Ok(Some((b'K', keys))) => ClientMsg::Keys(keys),
            Ok(Some((b'R', size))) => match serde_json::from_slice(&size) {
                Ok(size) => ClientMsg::Resize(size),
                Err(_) => continue,
            },
            Ok(Some((b'T', text))) => ClientMsg::Text(String::from_utf8_lossy(&text).into_owned()),
            Ok(Some((b'D', decision))) => match serde_json::from_slice(&decision) {
                Ok(decision) => ClientMsg::Decide(decision),
                Err(_) => continue,
            },
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break,
        };
        if tx.send((id, message)).is_err() {
            return;
        }
    }
    let _ = tx.send((id, ClientMsg::Left));
}

/// A client's connection to a live terminal.
#[derive(Debug)]
pub struct LiveClient {
    stream: UnixStream,
}

impl LiveClient {
    /// Connects to the socket at `path` and says hello; `None` when no worker listens there (a
    /// stale socket of a codecafe that died is removed).
    pub fn connect(path: &Path, hello: &Hello) -> Option<Self> {
        let mut stream = match UnixStream::connect(path) {
            Ok(stream) => stream,
            Err(_) => {
                let _ = std::fs::remove_file(path);
                return None;
            }
        };
        let payload = serde_json::to_vec(hello).ok()?;
        write_frame(&mut stream, b'H', &payload).ok()?;
        Some(Self { stream })
    }

    /// Sends the text typed as the answer to the agent's question and waits for the worker's
    /// answer: `Ok` when typed, `Err` with why not.
    pub fn type_answer(mut self, text: &str) -> std::io::Result<Result<String, String>> {
        write_frame(&mut self.stream, b'T', text.as_bytes())?;
        self.answer()
    }

    /// Sends a decision on the permission dialog and waits for the worker's answer.
    pub fn decide(mut self, decision: &DecisionMsg) -> std::io::Result<Result<String, String>> {
        let payload = serde_json::to_vec(decision).map_err(std::io::Error::other)?;
        write_frame(&mut self.stream, b'D', &payload)?;
        self.answer()
    }

    fn answer(&mut self) -> std::io::Result<Result<String, String>> {
        self.stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        loop {
            match read_frame(&mut self.stream)? {
                Some((b'A', text)) => return Ok(Ok(String::from_utf8_lossy(&text).into_owned())),
                Some((b'E', text)) => return Ok(Err(String::from_utf8_lossy(&text).into_owned())),
                Some((b'X', _)) | None => {
                    return Ok(Err(
                        "the agent's terminal ended before it answered".to_owned()
                    ));
                }
                Some(_) => {}
            }
        }
    }

    /// The two halves of an attached viewer's connection: frames from the worker, and a writer
    /// for keys and resizes.
    pub fn split(self) -> std::io::Result<(UnixStream, UnixStream)> {
        let writer = self.stream.try_clone()?;
        Ok((self.stream, writer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b'O', b"hello").expect("write");
        write_frame(&mut buf, b'N', b"").expect("write");
        let mut input = buf.as_slice();
        assert_eq!(
            read_frame(&mut input).expect("read"),
            Some((b'O', b"hello".to_vec()))
        );
        assert_eq!(read_frame(&mut input).expect("read"), Some((b'N', vec![])));
        assert_eq!(read_frame(&mut input).expect("read"), None);
        let mut huge = vec![b'K'];
        huge.extend_from_slice(&(u32::try_from(MAX_FRAME).expect("fits") + 1).to_be_bytes());
        assert!(read_frame(&mut huge.as_slice()).is_err());
    }

    #[test]
    fn socket_paths_are_short_and_one_per_order_and_stage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let order = Uuid::new_v4();
        let path = socket_path(dir.path(), order, "a-rather-long-stage-name-for-a-socket");
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(name.len(), 32 + 1 + 8 + 5);
        let server = LiveServer::start(path.clone()).expect("listen");
        assert!(path.exists(), "the stage listens");
        assert_ne!(
            path,
            socket_path(
                dir.path(),
                Uuid::new_v4(),
                "a-rather-long-stage-name-for-a-socket"
            )
        );
        assert_ne!(path, socket_path(dir.path(), order, "another-stage"));
        drop(server);
        assert!(!path.exists(), "the socket goes with the stage");
    }

    #[test]
    fn the_first_viewer_holds_the_keyboard_and_hands_it_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = socket_path(dir.path(), Uuid::new_v4(), "code");
        let mut server = LiveServer::start(path.clone()).expect("listen");
        let hello = |pid| Hello {
            role: Role::Attach,
            pid,
            cols: Some(80),
            rows: Some(24),
        };
        let first = LiveClient::connect(&path, &hello(11)).expect("first");
        let joined = |server: &mut LiveServer| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            loop {
                if let Some((id, ClientMsg::Joined { .. })) = server.try_next() {
                    return id;
                }
                assert!(std::time::Instant::now() < deadline, "no client joined");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let first_id = joined(&mut server);
        let _second = LiveClient::connect(&path, &hello(22)).expect("second");
        joined(&mut server);
        assert_eq!(server.holder(), Some((first_id, 11)));
        drop(first);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.holder().map(|(_, pid)| pid) != Some(22) {
            server.try_next();
            assert!(
                std::time::Instant::now() < deadline,
                "the keyboard was not handed on"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
