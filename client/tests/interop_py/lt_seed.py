"""Seed a file with libtorrent: lt_seed.py FILE TORRENT_OUT PORT PIECE_LEN [TRACKER_URL].

Creates a v1-only torrent of FILE (bt does not speak BEP 52), writes it to TORRENT_OUT, seeds
on 127.0.0.1:PORT and prints "ready" once seeding. Runs until killed. An existing TORRENT_OUT
is reused rather than rebuilt, so several seeders can serve one torrent.

Environment: LT_UPLOAD_LIMIT (bytes/s) caps the upload, loopback peers included (libtorrent
exempts local peers from limits unless all addresses map to the global peer class, DESIGN §9);
LT_CONNECT=HOST:PORT dials that peer once seeding (for clients that refuse loopback peers from a
tracker, like Transmission).
"""
import os
import sys
import time

import libtorrent as lt
from lt_common import session

path, out, port, piece_len = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if not os.path.exists(out):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, piece_len, flags=lt.create_torrent.v1_only)
    t.add_tracker(sys.argv[5] if len(sys.argv) > 5 else "http://127.0.0.1:1/announce")
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
    with open(out, "wb") as f:
        f.write(lt.bencode(t.generate()))

ses = session(port)
limit = int(os.environ.get("LT_UPLOAD_LIMIT", "0"))
if limit > 0:
    everyone = lt.ip_filter()
    everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(everyone)
    ses.apply_settings({"upload_rate_limit": limit})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(out)
params.save_path = os.path.dirname(os.path.abspath(path))
params.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(params)
while not h.status().is_seeding:
    time.sleep(0.05)
dial = None
if os.environ.get("LT_CONNECT"):
    host, _, peer_port = os.environ["LT_CONNECT"].rpartition(":")
    dial = (host, int(peer_port))
print("ready", flush=True)
while True:
    # Keep dialing until the peer is connected: it may still be starting up.
    if dial and h.status().num_peers == 0:
        h.connect_peer(dial)
    for a in ses.pop_alerts():
        print(a.message(), flush=True)
    time.sleep(0.2 if dial else 0.5)
