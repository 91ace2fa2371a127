"""Download a magnet link with libtorrent: lt_magnet.py MAGNET SAVE_DIR PEER_PORT LIMIT_SECS.

The metadata comes from the peer over BEP 9 (the link's x.pe, and PEER_PORT dialed directly).
Exits 0 once every piece is verified, 1 on timeout. Prints the elapsed seconds.
"""
import sys

import libtorrent as lt
from lt_common import download

link, save, peer_port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
params = lt.parse_magnet_uri(link)
params.save_path = save
print("metadata and data done in %.3f s" % download(params, peer_port, limit), flush=True)
