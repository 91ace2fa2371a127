"""Seed a file with libtorrent: lt_seed.py FILE TORRENT_OUT PORT PIECE_LEN [TRACKER_URL].

Creates a v1-only torrent of FILE (bt does not speak BEP 52), writes it to TORRENT_OUT, seeds
on 127.0.0.1:PORT and prints "ready" once seeding. Runs until killed.
"""
import os
import sys
import time

import libtorrent as lt
from lt_common import session

path, out, port, piece_len = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fs = lt.file_storage()
lt.add_files(fs, path)
t = lt.create_torrent(fs, piece_len, flags=lt.create_torrent.v1_only)
t.add_tracker(sys.argv[5] if len(sys.argv) > 5 else "http://127.0.0.1:1/announce")
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
with open(out, "wb") as f:
    f.write(lt.bencode(t.generate()))

ses = session(port)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(out)
params.save_path = os.path.dirname(os.path.abspath(path))
params.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(params)
while not h.status().is_seeding:
    time.sleep(0.05)
print("ready", flush=True)
while True:
    for a in ses.pop_alerts():
        print(a.message(), flush=True)
    time.sleep(0.5)
