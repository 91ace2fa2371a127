"""One file size of `bt experiment --client libtorrent`: lt_swarm.py TORRENT SEED_DIR WORK ITERATIONS LIMIT_SECS.

A libtorrent seeder serves SEED_DIR; each iteration starts three fresh leecher sessions (own
save dirs under WORK) that find it and each other through the torrent's tracker. Prints one
JSON line per event on stdout: {"ready": ...} once the tracker knows the seeder, then per leecher
{"iteration", "leecher", "time_s", "bytes", "same"}. `bytes` is the torrent's total_download,
which libtorrent counts with protocol overhead (handshakes, messages, headers) included; a
fresh session per leecher makes it exactly that leecher's received bytes. On a stall it prints
{"error": ...} and exits 1.
"""
import json
import os
import shutil
import sys
import time

import libtorrent as lt
from lt_common import session

torrent, seed_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
iterations, limit = int(sys.argv[4]), float(sys.argv[5])
info = lt.torrent_info(torrent)
name = info.name()
with open(os.path.join(seed_dir, name), "rb") as f:
    source = f.read()


def emit(**kw):
    print(json.dumps(kw), flush=True)


def add(ses, save, seed):
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save
    if seed:
        params.flags |= lt.torrent_flags.seed_mode
    return ses.add_torrent(params)


def tracker_replied(ses):
    return any(isinstance(a, lt.tracker_reply_alert) for a in ses.pop_alerts())


seeder = session(0)
seeder.apply_settings({"alert_mask": lt.alert.category_t.tracker_notification})
seed_handle = add(seeder, seed_dir, True)
start = time.time()
while not tracker_replied(seeder):
    if time.time() - start > limit:
        emit(error="the tracker never answered the libtorrent seeder")
        sys.exit(1)
    time.sleep(0.005)
emit(ready=True)

for it in range(1, iterations + 1):
    dirs = [os.path.join(work, "it%d-l%d" % (it, k)) for k in (1, 2, 3)]
    sessions = [session(0) for _ in dirs]
    begin = time.time()
    handles = [add(s, d, False) for s, d in zip(sessions, dirs)]
    done = [None, None, None]
    while None in done:
        now = time.time()
        for k, h in enumerate(handles):
            if done[k] is None and h.status().is_seeding:
                done[k] = now - begin
        if now - begin > limit:
            k = done.index(None)
            s = handles[k].status()
            emit(error="iteration %d, leecher %d stalled after %.0f s: progress %.3f, %d peers"
                 % (it, k + 1, limit, s.progress, s.num_peers))
            sys.exit(1)
        time.sleep(0.001)
    for k, (h, d) in enumerate(zip(handles, dirs)):
        with open(os.path.join(d, name), "rb") as f:
            same = f.read() == source
        emit(iteration=it, leecher=k + 1, time_s=done[k],
             bytes=h.status().total_download, same=same)
    for s, h in zip(sessions, handles):
        s.remove_torrent(h)
    del sessions, handles
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
