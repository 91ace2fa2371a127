//! The metadata phase of `bt download magnet:…`: peers come from the link's `x.pe`, `--peer`
//! and the link's HTTP and UDP trackers; engine-core's [`Fetcher`] decides what to ask whom, these
//! connections only carry its messages, and the SHA-1 check against the info-hash is done
//! here. The session then runs as for a .torrent file, with the peers found.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use engine_core::policy::peer_set::{Action, PeerSet};
use engine_core::protocol::magnet::MagnetLink;
use engine_core::protocol::metadata::{Fetcher, Input, Output};
use engine_core::protocol::metainfo::Metainfo;
use engine_core::protocol::wire::{self, Message};
use engine_core::torrent::DisconnectReason;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::announcer::{self, core_time, wall_time};
use super::Options;
use crate::announce;
use crate::peer::{self, ConnId};
use crate::units::{fmt_size, hex};

/// Trackers are asked again at least this often until the metadata arrives.
const REANNOUNCE: Duration = Duration::from_secs(30);

enum Event {
    Connected {
        conn: ConnId,
        peer_id: [u8; 20],
        extensions: bool,
        commands: mpsc::UnboundedSender<Message>,
    },
    Message {
        conn: ConnId,
        msg: Message,
    },
    Closed {
        conn: ConnId,
        error: Option<String>,
    },
}

/// One connection of the metadata phase: its address, and its writer once connected (dropping
/// it closes the connection).
struct Conn {
    addr: SocketAddr,
    commands: Option<mpsc::UnboundedSender<Message>>,
}

/// Fetches and verifies the link's info dictionary within `--timeout`; returns the torrent
/// (with the link's trackers) and every peer address learned and not banned. `port` is
/// announced.
pub(super) async fn fetch(
    opts: &Options,
    link: &MagnetLink,
    peer_id: [u8; 20],
    port: u16,
    start: Instant,
) -> Result<(Metainfo, Vec<SocketAddr>)> {
    let deadline = opts.timeout.map(|t| start + t);
    // Other schemes are warned about once the session starts announcing.
    let trackers: Vec<&String> = link
        .trackers
        .iter()
        .filter(|u| crate::announce::supported(u))
        .collect();
    if trackers.is_empty() && opts.peers.is_empty() {
        bail!(
            "the magnet link names no http:// or udp:// tracker (tr=) or peer (x.pe=); add --peer"
        );
    }
    let t0 = Instant::now();
    eprintln!(
        "bt: fetching metadata of {} ({:?}) from {} trackers and {} peers",
        hex(&link.info_hash),
        link.name.as_deref().unwrap_or("no name"),
        trackers.len(),
        opts.peers.len()
    );
    let now_core = || core_time(t0, Instant::now());
    let policy = opts.policy.peer_set(announcer::policy(
        opts.max_peers.max(1),
        opts.numwant,
        opts.min_announce_interval,
        Some(REANNOUNCE),
    ));
    let mut peer_set = PeerSet::new(policy);
    peer_set.learn(now_core(), opts.peers.iter().copied());
    if !trackers.is_empty() {
        peer_set.start_announcing(now_core());
    }
    let (events_tx, mut events) = mpsc::channel(256);
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let mut fetcher = Fetcher::new();
    let mut conns: BTreeMap<ConnId, Conn> = BTreeMap::new();
    // Ctrl-C ends the metadata phase too, with a message rather than a silent kill.
    let interrupted = super::actor::shutdown_signal();
    tokio::pin!(interrupted);
    let mut next_conn: ConnId = 0;
    let log = |args: std::fmt::Arguments<'_>| {
        if opts.verbose {
            eprintln!("bt: {args}");
        }
    };
    while !fetcher.is_complete() {
        while let Some(out) = fetcher.poll_output() {
            match out {
                Output::Send { peer, msg } => {
                    if let Some(tx) = conns.get(&peer).and_then(|c| c.commands.as_ref()) {
                        let _ = tx.send(msg); // fails only once closed; `Closed` follows
                    }
                }
                Output::Disconnect { peer, reason } => {
                    if let Some(c) = conns.get_mut(&peer) {
                        c.commands = None;
                        log(format_args!("disconnecting {}: {reason:?}", c.addr));
                        if reason == DisconnectReason::BadData {
                            eprintln!(
                                "bt: {} sent metadata that fails the info-hash: banned",
                                c.addr
                            );
                            peer_set.ban(c.addr);
                        }
                    }
                }
                Output::Verify => {
                    let digest = fetcher
                        .metadata()
                        .map(|m| <[u8; 20]>::from(Sha1::digest(m)));
                    let ok = digest == Some(link.info_hash);
                    if !ok {
                        eprintln!("bt: assembled metadata does not match the info-hash: discarded");
                    }
                    let _ = fetcher.handle_input(now_core(), Input::Verified { ok });
                }
            }
        }
        if fetcher.is_complete() {
            break;
        }
        while let Some(action) = peer_set.poll_action(now_core()) {
            match action {
                Action::Dial(addr) => {
                    next_conn += 1;
                    let commands = None;
                    conns.insert(next_conn, Conn { addr, commands });
                    let ids = (link.info_hash, peer_id);
                    tokio::spawn(connection(ids, next_conn, addr, events_tx.clone()));
                }
                // Every tracker is asked; the first answer counts for the schedule.
                Action::Announce(a) => {
                    for url in &trackers {
                        let req = announce::Request {
                            info_hash: link.info_hash,
                            peer_id,
                            port,
                            uploaded: 0,
                            downloaded: 0,
                            // The size is unknown until the metadata arrives; non-zero marks
                            // a leecher.
                            left: 1,
                            event: a.event,
                            numwant: a.numwant,
                        };
                        let (url, tx) = (url.to_string(), answers_tx.clone());
                        tokio::spawn(async move {
                            let result = announce::announce(&url, &req).await;
                            let _ = tx.send((a.event, result));
                        });
                    }
                }
            }
        }
        let at = |t| wall_time(t0, t);
        let wake = [
            fetcher.poll_timeout().map(at),
            peer_set.poll_timeout().map(at),
            deadline,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Instant::now() + Duration::from_secs(60));
        tokio::select! {
            Some(ev) = events.recv() => match ev {
                Event::Connected { conn, peer_id: theirs, extensions, commands } => {
                    let Some(c) = conns.get_mut(&conn) else { continue };
                    if theirs == peer_id {
                        peer_set.ban(c.addr); // ourselves
                        continue;
                    }
                    log(format_args!("connected to {} for metadata (conn {conn})", c.addr));
                    peer_set.connected(c.addr);
                    c.commands = Some(commands);
                    // Rejections need nothing from us: a protocol violation among them also
                    // came out as `Output::Disconnect`.
                    let _ = fetcher.handle_input(now_core(), Input::Connected { peer: conn, extensions });
                }
                Event::Message { conn, msg } => {
                    if conns.get(&conn).is_some_and(|c| c.commands.is_some()) {
                        let _ = fetcher.handle_input(now_core(), Input::Message { peer: conn, msg });
                    }
                }
                Event::Closed { conn, error } => {
                    if let Some(c) = conns.remove(&conn) {
                        log(format_args!("{}: {}", c.addr, error.as_deref().unwrap_or("closed")));
                        peer_set.closed(now_core(), &c.addr, error.is_some());
                        let _ = fetcher.handle_input(now_core(), Input::Disconnected { peer: conn });
                    }
                }
            },
            Some((event, result)) = answers.recv() => match result {
                Ok(r) => {
                    peer_set.learn(now_core(), r.peers);
                    peer_set.announced(now_core(), event, Some(announcer::core_duration(r.interval)));
                }
                Err(e) => {
                    eprintln!("warning: {e:#}");
                    peer_set.announced(now_core(), event, None);
                }
            },
            _ = &mut interrupted => {
                let (got, of) = fetcher.progress();
                bail!("interrupted while fetching metadata ({got}/{of} pieces)");
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    let (got, of) = fetcher.progress();
                    bail!(
                        "gave up after {:.0?}: metadata {got}/{of} pieces, {} peers connected",
                        start.elapsed(),
                        conns.values().filter(|c| c.commands.is_some()).count()
                    );
                }
                let _ = fetcher.handle_input(now_core(), Input::Timeout);
            }
        }
    }
    // Dropping `conns` closes the connections; the session dials the peers afresh.
    let raw = fetcher.metadata().unwrap_or_default();
    let meta = Metainfo::from_info(raw, &link.trackers)
        .context("the metadata matches the info-hash but is not a valid info dictionary")?;
    eprintln!(
        "bt: metadata of {:?}: {} in {:.2} s",
        meta.info.name,
        fmt_size(raw.len() as u64),
        t0.elapsed().as_secs_f64()
    );
    if let Some(path) = &opts.save_torrent {
        std::fs::write(path, meta.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bt: saved {}", path.display());
    }
    Ok((meta, peer_set.known().copied().collect()))
}

async fn connection(
    ids: ([u8; 20], [u8; 20]),
    conn: ConnId,
    addr: SocketAddr,
    events: mpsc::Sender<Event>,
) {
    let error = talk(ids, conn, addr, &events)
        .await
        .err()
        .map(|e| format!("{e:#}"));
    let _ = events.send(Event::Closed { conn, error }).await;
}

/// Handshakes, then forwards every message to the fetch loop and writes what it sends, until
/// either side closes.
async fn talk(
    (info_hash, peer_id): ([u8; 20], [u8; 20]),
    conn: ConnId,
    addr: SocketAddr,
    events: &mpsc::Sender<Event>,
) -> Result<()> {
    let (stream, theirs) = peer::establish(info_hash, peer_id, addr, None).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    events
        .send(Event::Connected {
            conn,
            peer_id: theirs.peer_id,
            extensions: theirs.supports_extensions(),
            commands: tx,
        })
        .await?;
    let (mut rd, mut wr) = stream.into_split();
    let read = async {
        let mut buf = BytesMut::new();
        loop {
            while let Some(msg) = wire::decode_bytes(&mut buf, peer::MAX_MESSAGE_LEN)? {
                events.send(Event::Message { conn, msg }).await?;
            }
            let n = tokio::time::timeout(peer::IDLE_TIMEOUT, rd.read_buf(&mut buf))
                .await
                .map_err(|_| anyhow!("peer silent for {:?}", peer::IDLE_TIMEOUT))??;
            if n == 0 {
                return Ok(());
            }
        }
    };
    let write = async {
        let mut frame = Vec::new();
        loop {
            // A slow metadata phase must not look dead to the peer (its idle timeout).
            let msg = match tokio::time::timeout(peer::KEEPALIVE_AFTER, rx.recv()).await {
                Err(_) => Message::KeepAlive,
                Ok(None) => return Ok(()), // the fetch loop dropped this connection
                Ok(Some(m)) => m,
            };
            frame.clear();
            msg.encode(&mut frame);
            wr.write_all(&frame).await?;
        }
    };
    tokio::select! {
        r = read => r,
        r = write => r,
    }
}

/// A link to `meta` with its trackers, and `local` as a peer when it is a concrete address.
pub(super) fn link_for(meta: &Metainfo, local: SocketAddr) -> MagnetLink {
    MagnetLink {
        info_hash: meta.info_hash,
        name: Some(meta.info.name.clone()),
        trackers: meta.trackers(),
        peers: (!local.ip().is_unspecified())
            .then(|| local.to_string())
            .into_iter()
            .collect(),
    }
}
