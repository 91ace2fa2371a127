#!/usr/bin/env bash
# Loopback download benchmark: one libtorrent seeder, then the same torrent downloaded by
# bt, by libtorrent's own client (python), by aria2c and (if installed) by rqbit, one after
# another; prints MB/s each.
#
#   scripts/bench_download.sh [SIZE_MIB=512] [PIECE_KIB=1024]
#
# Extra bt flags: BT_ARGS="--pipeline 64". Needs python3-libtorrent and aria2 (see .ci/run); builds bt in release mode. The data is
# written just before the runs, so every client reads a warm page cache on the seeder side;
# each run starts with no dirty pages left by earlier ones.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-512}
PIECE_KIB=${2:-1024}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p client
BT="$CARGO_TARGET_DIR/release/bt"
PY=/usr/bin/python3
PYDIR="$PWD/client/tests/interop_py"
command -v aria2c >/dev/null || { echo "aria2c missing: apt-get install aria2" >&2; exit 1; }
$PY -c 'import libtorrent' || { echo "python3-libtorrent missing" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

TRACKER_PORT=$(free_port)
"$BT" tracker --listen "127.0.0.1:$TRACKER_PORT" --interval 60 >"$WORK/tracker.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/src"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/src/bench.bin"
# Flush dirty pages before each timed run (outside the timing), so no client pays for the
# writeback of the data written before it: the first used to absorb the source file's.
sync
SEED_PORT=$(free_port)
PYTHONPATH="$PYDIR" $PY "$PYDIR/lt_seed.py" "$WORK/src/bench.bin" "$WORK/bench.torrent" "$SEED_PORT" \
    $((PIECE_KIB << 10)) "http://127.0.0.1:$TRACKER_PORT/announce" >"$WORK/seed.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q ready "$WORK/seed.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/seed.log" || { echo "libtorrent seeder did not start:" >&2; cat "$WORK/seed.log" >&2; exit 1; }

# Runs "$@", checks the downloaded file, prints "name seconds MB/s".
run() {
    local name=$1 out=$2; shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$WORK/$name.log" 2>&1 || { echo "$name failed:" >&2; tail -20 "$WORK/$name.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    cmp -s "$out/bench.bin" "$WORK/src/bench.bin" || { echo "$name: data differs" >&2; exit 1; }
    awk -v n="$name" -v a="$t0" -v b="$t1" -v s="$SIZE_MIB" \
        'BEGIN { t = b - a; printf "%-12s %7.2f s %8.1f MB/s\n", n, t, s * 1048576 / t / 1e6 }'
    rm -rf "$out"
    sync
}

# An untimed warm-up download (libtorrent's) first: the first download from a fresh seeder runs
# slower (0.2-1 s here, whichever client makes it), and that used to be always bt's.
mkdir -p "$WORK/warm"
PYTHONPATH="$PYDIR" $PY "$PYDIR/lt_leech.py" "$WORK/bench.torrent" "$WORK/warm" "$SEED_PORT" 600 >"$WORK/warm.log" 2>&1 ||
    { echo "warm-up download failed:" >&2; tail -20 "$WORK/warm.log" >&2; exit 1; }
rm -rf "$WORK/warm"
sync

echo "loopback download of ${SIZE_MIB} MiB (${PIECE_KIB} KiB pieces) from a libtorrent $($PY -c 'import libtorrent; print(libtorrent.__version__)') seeder"
run bt "$WORK/bt" "$BT" download "$WORK/bench.torrent" -o "$WORK/bt" --peer "127.0.0.1:$SEED_PORT" --timeout 600s ${BT_ARGS:-}
mkdir -p "$WORK/lt"
run libtorrent "$WORK/lt" env PYTHONPATH="$PYDIR" $PY "$PYDIR/lt_leech.py" "$WORK/bench.torrent" "$WORK/lt" "$SEED_PORT" 600
run aria2c "$WORK/aria2" aria2c --seed-time=0 --bt-enable-lpd=false --enable-dht=false --enable-dht6=false \
    --bt-require-crypto=false --summary-interval=0 --file-allocation=none -d "$WORK/aria2" "$WORK/bench.torrent"
# rqbit, when installed (`cargo install rqbit --locked`; RQBIT=/path/to/rqbit or on PATH).
RQBIT=${RQBIT:-$(command -v rqbit || true)}
if [ -n "$RQBIT" ]; then
    run rqbit "$WORK/rqbit" "$RQBIT" --disable-dht --disable-dht-persistence --disable-upnp-port-forward \
        --disable-lsd download --disable-http-api --exit-on-finish --initial-peers "127.0.0.1:$SEED_PORT" \
        -o "$WORK/rqbit" "$WORK/bench.torrent"
else
    echo "rqbit        not installed (cargo install rqbit --locked), skipped"
fi
