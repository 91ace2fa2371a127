"""Download a magnet link with libtorrent: lt_magnet.py MAGNET SAVE_DIR PEER_PORT LIMIT_SECS.

The metadata comes from the peer over BEP 9 (the link's x.pe, and PEER_PORT dialed directly).
Exits 0 once every piece is verified, 1 on timeout. Prints the elapsed seconds.
"""
import sys
import time

import libtorrent as lt
from lt_common import session

link, save, peer_port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ses = session(0)
params = lt.parse_magnet_uri(link)
params.save_path = save
h = ses.add_torrent(params)
start = time.time()
h.connect_peer(("127.0.0.1", peer_port))
while not h.status().is_seeding:
    for a in ses.pop_alerts():
        print(a.message(), flush=True)
    s = h.status()
    if time.time() - start > limit:
        print("timeout: metadata %s, progress %.3f, %d peers"
              % (s.has_metadata, s.progress, s.num_peers), flush=True)
        sys.exit(1)
    if s.num_peers == 0 and int((time.time() - start) * 10) % 20 == 0:
        h.connect_peer(("127.0.0.1", peer_port))
    time.sleep(0.05)
print("metadata and data done in %.3f s" % (time.time() - start), flush=True)
