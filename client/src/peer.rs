//! One peer connection as a task: the BEP 3 handshake, then framed reading and writing with
//! engine-core's wire codec. It makes no protocol decisions: every message goes to the torrent
//! actor, and it writes what the actor tells it to.
//!
//! Memory per connection is bounded: a frame's length prefix is checked against
//! [`MAX_MESSAGE_LEN`] before its payload is buffered, and the actor's event queue is bounded,
//! so a peer that floods us stalls on TCP backpressure instead of growing our buffers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use engine_core::protocol::block::{BlockRequest, Geometry};
use engine_core::protocol::wire::{self, Handshake, Message, HANDSHAKE_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::ratelimit::{self, Bucket};
use crate::session::disk::{Disk, Stored};

/// The session's handle for one connection (the engine-core `PeerKey`).
pub type ConnId = u64;

/// Largest frame we accept: a 16 KiB block's `piece` message with room to spare, and the
/// bitfield of a 1M-piece torrent. Anything larger is a protocol violation.
pub const MAX_MESSAGE_LEN: u32 = wire::DEFAULT_MAX_MESSAGE_LEN;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// BEP 3 suggests keep-alives every two minutes; we send one after a minute of silence.
pub const KEEPALIVE_AFTER: Duration = Duration::from_secs(60);
/// A peer that sends nothing (not even a keep-alive) for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
const READ_CHUNK: usize = 64 * 1024;
/// Writes are buffered and flushed when the command queue runs dry.
const WRITE_BUFFER: usize = 64 * 1024;

/// What every connection of one torrent shares (cloned with a new peer id and event queue
/// for a `whitewash` identity).
#[derive(Clone)]
pub struct Shared {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub geometry: Geometry,
    pub events: mpsc::Sender<Event>,
    pub disk: Arc<Disk>,
    /// Global rate limits.
    pub up: Arc<Bucket>,
    pub down: Arc<Bucket>,
    /// Burst allowance of every bucket, the per-peer caps included.
    pub burst: std::time::Duration,
    /// Every byte read from peers (handshakes and all messages), for `bt experiment`'s overhead.
    pub received: Arc<AtomicU64>,
}

/// What the actor tells a connection to do.
#[derive(Debug)]
pub enum Command {
    Send(Message),
    /// Read this block from disk and send it as a `piece` message, then report
    /// [`Event::Uploaded`].
    Upload(BlockRequest),
}

/// What a connection (or the disk under it) reports to the actor.
#[derive(Debug)]
pub enum Event {
    Connected(Connected),
    /// Any message but `piece`, which arrives as [`Event::Block`] once stored.
    Message {
        conn: ConnId,
        msg: Message,
    },
    Block {
        conn: ConnId,
        block: BlockRequest,
    },
    Uploaded {
        conn: ConnId,
    },
    Closed {
        conn: ConnId,
        error: Option<String>,
    },
    /// Storing a block failed: the session cannot go on.
    DiskFailed(String),
}

#[derive(Debug)]
pub struct Connected {
    pub conn: ConnId,
    pub addr: SocketAddr,
    pub peer_id: [u8; 20],
    pub fast: bool,
    pub extensions: bool,
    pub commands: mpsc::UnboundedSender<Command>,
    /// This peer's upload cap, set by the actor from `Output::SetUploadCap`.
    pub upload_cap: Arc<Bucket>,
}

/// Runs one connection to its end and reports [`Event::Closed`]. `stream` is an accepted
/// socket, or `None` to dial `addr`. The permit bounds open connections and is held till the end.
pub async fn run(
    ctx: Arc<Shared>,
    conn: ConnId,
    addr: SocketAddr,
    stream: Option<TcpStream>,
    permit: OwnedSemaphorePermit,
) {
    let res = connection(&ctx, conn, addr, stream).await;
    drop(permit);
    let error = res.err().map(|e| format!("{e:#}"));
    let _ = ctx.events.send(Event::Closed { conn, error }).await;
}

async fn connection(
    ctx: &Shared,
    conn: ConnId,
    addr: SocketAddr,
    stream: Option<TcpStream>,
) -> Result<()> {
    let (stream, theirs) = establish(ctx.info_hash, ctx.peer_id, addr, stream).await?;
    ctx.received
        .fetch_add(HANDSHAKE_LEN as u64, Ordering::Relaxed);
    let ours = Handshake::with_fast_and_extensions(ctx.info_hash, ctx.peer_id);
    let (tx, rx) = mpsc::unbounded_channel();
    let cap = Arc::new(Bucket::new(None, ctx.burst));
    let connected = Connected {
        conn,
        addr,
        peer_id: theirs.peer_id,
        fast: ours.supports_fast() && theirs.supports_fast(),
        extensions: ours.supports_extensions() && theirs.supports_extensions(),
        commands: tx,
        upload_cap: cap.clone(),
    };
    ctx.events.send(Event::Connected(connected)).await?;
    let (rd, wr) = stream.into_split();
    tokio::select! {
        r = read_loop(ctx, conn, rd) => r,
        r = write_loop(ctx, conn, wr, rx, &cap) => r,
    }
}

/// Dials `addr` (unless `stream` is an accepted socket) and exchanges BEP 3 handshakes for
/// `info_hash`, within the connect and handshake timeouts. Shared with the metadata phase of
/// a magnet download, which has no [`Shared`] yet.
pub async fn establish(
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    addr: SocketAddr,
    stream: Option<TcpStream>,
) -> Result<(TcpStream, Handshake)> {
    let outgoing = stream.is_none();
    let mut stream = match stream {
        Some(s) => s,
        None => tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connect timed out"))?
            .context("connect")?,
    };
    stream.set_nodelay(true)?;
    let hs = handshake(&mut stream, info_hash, peer_id, outgoing);
    let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, hs)
        .await
        .map_err(|_| anyhow!("handshake timed out"))??;
    Ok((stream, theirs))
}

/// Exchanges handshakes: the dialer speaks first, the acceptor checks the info-hash first.
async fn handshake(
    stream: &mut TcpStream,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    outgoing: bool,
) -> Result<Handshake> {
    let ours = Handshake::with_fast_and_extensions(info_hash, peer_id).encode();
    if outgoing {
        stream.write_all(&ours).await?;
    }
    let mut buf = [0u8; HANDSHAKE_LEN];
    // The protocol string first, so garbage is rejected before we wait for 68 bytes.
    stream
        .read_exact(&mut buf[..20])
        .await
        .context("reading handshake")?;
    Handshake::decode(&buf[..20]).context("bad handshake")?;
    stream
        .read_exact(&mut buf[20..])
        .await
        .context("reading handshake")?;
    let (theirs, _) = Handshake::decode(&buf)?.ok_or_else(|| anyhow!("short handshake"))?;
    if theirs.info_hash != info_hash {
        bail!("peer wants another torrent");
    }
    if !outgoing {
        stream.write_all(&ours).await?;
    }
    Ok(theirs)
}

async fn read_loop(ctx: &Shared, conn: ConnId, mut rd: OwnedReadHalf) -> Result<()> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        while let Some(msg) = wire::decode_bytes(&mut buf, MAX_MESSAGE_LEN)? {
            let event = match msg {
                Message::Piece { index, begin, data } => {
                    let block = BlockRequest {
                        index,
                        begin,
                        length: data.len() as u32,
                    };
                    // Invalid blocks go to the core unstored: it disconnects the sender.
                    if ctx.geometry.is_valid_block(&block) {
                        store(ctx, block, data).await?;
                    }
                    Event::Block { conn, block }
                }
                msg => Event::Message { conn, msg },
            };
            ctx.events.send(event).await?;
        }
        buf.reserve(READ_CHUNK);
        let n = tokio::time::timeout(IDLE_TIMEOUT, rd.read_buf(&mut buf))
            .await
            .map_err(|_| anyhow!("peer silent for {IDLE_TIMEOUT:?}"))??;
        if n == 0 {
            return Ok(());
        }
        ctx.received.fetch_add(n as u64, Ordering::Relaxed);
        ctx.down.acquire(n).await;
    }
}

async fn store(ctx: &Shared, block: BlockRequest, data: bytes::Bytes) -> Result<Stored> {
    match ctx.disk.clone().write(block, data).await {
        Ok(s) => Ok(s),
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = ctx.events.send(Event::DiskFailed(msg.clone())).await;
            Err(anyhow!(msg))
        }
    }
}

async fn write_loop(
    ctx: &Shared,
    conn: ConnId,
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Command>,
    cap: &Bucket,
) -> Result<()> {
    let mut wr = BufWriter::with_capacity(WRITE_BUFFER, wr);
    let mut frame = Vec::with_capacity(READ_CHUNK);
    loop {
        let cmd = match tokio::time::timeout(KEEPALIVE_AFTER, rx.recv()).await {
            Err(_) => Command::Send(Message::KeepAlive),
            // The actor dropped this connection.
            Ok(None) => return Ok(()),
            Ok(Some(c)) => c,
        };
        frame.clear();
        let uploaded = match cmd {
            Command::Send(m) => {
                m.encode(&mut frame);
                false
            }
            Command::Upload(b) => {
                let data = ctx.disk.read(b).await?;
                ratelimit::acquire_all(&[cap, &ctx.up], data.len()).await;
                let (index, begin) = (b.index, b.begin);
                Message::Piece { index, begin, data }.encode(&mut frame);
                true
            }
        };
        wr.write_all(&frame).await?;
        // Blocks go out at once (the next one may wait for tokens); small messages batch.
        if uploaded || rx.is_empty() {
            wr.flush().await?;
        }
        if uploaded {
            ctx.events.send(Event::Uploaded { conn }).await?;
        }
    }
}
