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
