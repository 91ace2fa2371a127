"""Download with libtorrent from one peer: lt_leech.py TORRENT SAVE_DIR PEER_PORT LIMIT_SECS.

Exits 0 once every piece is verified, 1 on timeout. Prints the elapsed seconds.
"""
import sys
import time

import libtorrent as lt
from lt_common import session

torrent, save, peer_port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ses = session(0)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
h = ses.add_torrent(params)
start = time.time()
h.connect_peer(("127.0.0.1", peer_port))
while not h.status().is_seeding:
    for a in ses.pop_alerts():
        print(a.message(), flush=True)
    if time.time() - start > limit:
        s = h.status()
        print("timeout: progress %.3f, %d peers" % (s.progress, s.num_peers), flush=True)
        sys.exit(1)
    if h.status().num_peers == 0 and int((time.time() - start) * 10) % 20 == 0:
        h.connect_peer(("127.0.0.1", peer_port))
    time.sleep(0.05)
print("done in %.3f s" % (time.time() - start), flush=True)
