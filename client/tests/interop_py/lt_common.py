"""Shared libtorrent session setup for the interop tests and the benchmark (loopback only)."""
import libtorrent as lt


def session(port):
    """A session on 127.0.0.1:port with DHT, LSD, UPnP, NAT-PMP and uTP off (bt speaks TCP)."""
    return lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification,
    })


def download(params, peer_port, limit):
    """Adds `params` to a fresh session, dials 127.0.0.1:peer_port (again while no peer is
    connected) and waits until every piece verifies; exits 1 after `limit` seconds.
    Returns the elapsed seconds."""
    import sys
    import time

    ses = session(0)
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
    return time.time() - start
