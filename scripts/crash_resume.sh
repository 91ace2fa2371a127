#!/usr/bin/env bash
# The full kill -9 measurement: a 256 MiB `bt download` from a seeder limited to 3 MiB/s,
# killed with SIGKILL 24 times at seeded-random moments and restarted until the file verifies
# (client/tests/crash_resume.rs, ignored by default). Prints one line per kill: pieces the run
# reported verified, pieces the restart found, and the bytes received but not kept.
#
#   scripts/crash_resume.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release -p client --test crash_resume -- --ignored --nocapture
