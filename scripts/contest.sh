#!/usr/bin/env bash
# Seed 000's contest as a benchmark: download a 2 MB, a 28 MB and a 200 MB file from a
# rate-limited libtorrent seeder on loopback with bt, libtorrent's own client, aria2c and
# Transmission, one after another in the same run, and print each time and its ratio to bt's.
#
#   scripts/contest.sh [RATE_BYTES_PER_S=5000000] [SIZES_BYTES="2000000 28000000 200000000"]
#
# Needs python3-libtorrent, aria2 and transmission-cli (see .ci/run); builds bt in release mode.
# Transmission refuses loopback peers handed out by a tracker, so for it a second libtorrent
# seeder of the same torrent dials Transmission directly (same rate limit); timing starts when
# the client starts and stops when its file is complete and verified.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-5000000}
SIZES=${2:-"2000000 28000000 200000000"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p client
BT="$CARGO_TARGET_DIR/release/bt"
PY=/usr/bin/python3
PYDIR="$PWD/client/tests/interop_py"
for tool in aria2c transmission-cli; do
    command -v $tool >/dev/null || { echo "$tool missing: see .ci/run" >&2; exit 1; }
done
$PY -c 'import libtorrent' || { echo "python3-libtorrent missing" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
wait_ready() {
    for _ in $(seq 1 600); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "libtorrent seeder did not start:" >&2; cat "$1" >&2; exit 1
}
# Starts a rate-limited libtorrent seeder of $1 (data) as torrent $2 on port $3; extra env in $4.
seeder() {
    env PYTHONPATH="$PYDIR" LT_UPLOAD_LIMIT="$RATE" ${4:-} $PY "$PYDIR/lt_seed.py" "$1" "$2" "$3" \
        $((256 << 10)) "http://127.0.0.1:$TRACKER_PORT/announce" >"$5" 2>&1 &
    PIDS+=($!)
    wait_ready "$5"
}

TRACKER_PORT=$(free_port)
"$BT" tracker --listen "127.0.0.1:$TRACKER_PORT" --interval 60 >"$WORK/tracker.log" 2>&1 &
PIDS+=($!)

printf 'seed 000 contest: libtorrent %s seeder limited to %s B/s on loopback\n' \
    "$($PY -c 'import libtorrent; print(libtorrent.__version__)')" "$RATE"
printf '%-12s %-12s %10s %12s %8s\n' size client seconds MB/s vs_bt
for size in $SIZES; do
    dir="$WORK/s$size"
    mkdir -p "$dir/src"
    head -c "$size" /dev/urandom >"$dir/src/file.bin"
    port=$(free_port)
    seeder "$dir/src/file.bin" "$dir/file.torrent" "$port" "" "$dir/seed.log"
    bt_time=""
    # Prints one result line; $1 client, $2 seconds.
    report() {
        [ -z "$bt_time" ] && bt_time=$2
        awk -v c="$1" -v t="$2" -v s="$size" -v b="$bt_time" \
            'BEGIN { printf "%-12s %-12s %10.2f %12.2f %8.2f\n", s, c, t, s / t / 1e6, t / b }'
    }
    check() { cmp -s "$1" "$dir/src/file.bin" || { echo "$2: data differs" >&2; exit 1; }; }

    t0=$(now)
    "$BT" download "$dir/file.torrent" -o "$dir/bt" --peer "127.0.0.1:$port" --timeout 900s \
        >"$dir/bt.log" 2>&1 || { echo "bt failed:" >&2; tail "$dir/bt.log" >&2; exit 1; }
    t=$(since "$t0"); check "$dir/bt/file.bin" bt; report bt "$t"

    mkdir -p "$dir/lt"
    t0=$(now)
    env PYTHONPATH="$PYDIR" $PY "$PYDIR/lt_leech.py" "$dir/file.torrent" "$dir/lt" "$port" 900 \
        >"$dir/lt.log" 2>&1 || { echo "libtorrent failed:" >&2; tail "$dir/lt.log" >&2; exit 1; }
    t=$(since "$t0"); check "$dir/lt/file.bin" libtorrent; report libtorrent "$t"

    t0=$(now)
    aria2c --seed-time=0 --bt-enable-lpd=false --enable-dht=false --enable-dht6=false \
        --bt-require-crypto=false --summary-interval=0 --file-allocation=none \
        --bt-stop-timeout=900 -d "$dir/aria2" "$dir/file.torrent" >"$dir/aria2.log" 2>&1 ||
        { echo "aria2c failed:" >&2; tail "$dir/aria2.log" >&2; exit 1; }
    t=$(since "$t0"); check "$dir/aria2/file.bin" aria2c; report aria2c "$t"

    tr_port=$(free_port)
    mkdir -p "$dir/tr"
    t0=$(now)
    transmission-cli -w "$dir/tr" -g "$dir/tr-conf" -p "$tr_port" -et -M \
        "$dir/file.torrent" >"$dir/tr.log" 2>&1 &
    tr_pid=$!
    PIDS+=($tr_pid)
    for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$tr_port") 2>/dev/null && break; sleep 0.05; done
    seeder "$dir/src/file.bin" "$dir/file.torrent" "$(free_port)" "LT_CONNECT=127.0.0.1:$tr_port" "$dir/seed-tr.log"
    deadline=$(( $(date +%s) + 900 ))
    # transmission-cli keeps seeding after it finishes; it prints "Seeding" once complete.
    until tr '\r' '\n' <"$dir/tr.log" | grep -q Seeding; do
        kill -0 "$tr_pid" 2>/dev/null || { echo "transmission-cli exited:" >&2; tail "$dir/tr.log" >&2; exit 1; }
        [ "$(date +%s)" -lt "$deadline" ] || { echo "transmission timed out" >&2; exit 1; }
        sleep 0.05
    done
    t=$(since "$t0"); check "$dir/tr/file.bin" transmission; report transmission "$t"
    kill "$tr_pid" 2>/dev/null || true
done
