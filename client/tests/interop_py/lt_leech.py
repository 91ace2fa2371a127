"""Download with libtorrent from one peer: lt_leech.py TORRENT SAVE_DIR PEER_PORT LIMIT_SECS.

Exits 0 once every piece is verified, 1 on timeout. Prints the elapsed seconds.
"""
import sys

import libtorrent as lt
from lt_common import download

torrent, save, peer_port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
print("done in %.3f s" % download(params, peer_port, limit), flush=True)
