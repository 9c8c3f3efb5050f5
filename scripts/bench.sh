#!/usr/bin/env bash
# Runs every benchmark binary in build/bench and the size check; figures go to docs/performance.md
# by hand, with the command that produced them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
echo "== stripped release binary size"
tmp=$(mktemp)
strip -o "$tmp" "$build/otedama"
echo "otedama stripped: $(stat -c %s "$tmp") bytes ($(numfmt --to=iec "$(stat -c %s "$tmp")"))"
rm -f "$tmp"
for b in "$build"/bench/*_bench; do
  echo "== $(basename "$b")"
  "$b" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$@"
done
