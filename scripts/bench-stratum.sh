#!/usr/bin/env bash
# The Stratum v1 load benchmark (docs/perf-stratum.md): a sha256d (bitcoin) pool of
# `otedama serve`, fed one fixed mainnet-like block template by bench/fake_bitcoind (a stand-in
# daemon used only here), measured by bench/stratum_load: N connections held, then a sweep of
# share rates on M of them. Everything runs on 127.0.0.1 under a hard `timeout` and is stopped
# at the end.
#
#   scripts/bench-stratum.sh [BUILD_DIR]        (default: build; needs the targets
#                                                otedama, fake_bitcoind, stratum_load)
# Settings (environment): CONNECTIONS=10000 SUBMITTERS=1000 RATES=5000,10000,20000,30000
#   PHASE_SECONDS=15 DRAIN_SECONDS=2 THREADS=1 LOG_LEVEL=info JSON=FILE (results as JSON)
#   TIMELINE=0.25 (worst latency per 0.25 s window, to tell stalls from queueing)
#   SERVER_WRAP="perf record -g -o /tmp/x.data --"   (optional: run the server under a profiler)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[[ $build = /* ]] || build=$root/$build
CONNECTIONS=${CONNECTIONS:-10000}
SUBMITTERS=${SUBMITTERS:-1000}
RATES=${RATES:-5000,10000,20000,30000}
PHASE_SECONDS=${PHASE_SECONDS:-15}
DRAIN_SECONDS=${DRAIN_SECONDS:-2}
THREADS=${THREADS:-1}
LOG_LEVEL=${LOG_LEVEL:-info}
SERVER_WRAP=${SERVER_WRAP:-}
ADDRESS=bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq   # BIP173's example P2WPKH address (mainnet)
DIFF=0.0000000002328306436538696                      # 2^-32: nearly every nonce is a share

otedama=${OTEDAMA:-$build/otedama}   # OTEDAMA=path: another server binary (A/B runs)
fake=$build/bench/fake_bitcoind
load=$build/bench/stratum_load
for b in "$otedama" "$fake" "$load"; do
  [[ -x $b ]] || { echo "missing $b: ninja -C $build otedama fake_bitcoind stratum_load" >&2; exit 2; }
done

nrates=$(awk -F, '{print NF}' <<<"$RATES")
# Whole-run bound: connect (<=120 s) + idle + sweep + margins.
limit=$(( 180 + nrates * (PHASE_SECONDS + DRAIN_SECONDS) ))

# Each connection is a descriptor, in the server and in the generator (the hard limit as root).
want=$(( CONNECTIONS + 2048 ))
if (( $(ulimit -Hn) < want )); then ulimit -Hn "$want" 2>/dev/null || true; fi
ulimit -n "$(( $(ulimit -Hn) < want ? $(ulimit -Hn) : want ))"

tmp=$(mktemp -d /tmp/otedama-bench-stratum.XXXXXX)
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

read -r p_rpc p_stratum p_api p_metrics p_health < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)

echo "== machine: $(nproc) cores; load before: $(uptime)"
echo "== fake_bitcoind on 127.0.0.1:$p_rpc (stand-in daemon, benchmark only)"
timeout -k 5 "$limit" "$fake" --port "$p_rpc" --template "$root/bench/data/bitcoin_gbt_mainnet_like.json" \
  --user bench --password benchpass --max-seconds "$limit" 2>"$tmp/fake.log" &
pids+=("$!")

max_conn=$(( CONNECTIONS > 10000 ? CONNECTIONS : 10000 ))
cat >"$tmp/pool.yaml" <<YAML
app: {name: "bench-stratum", mode: development, data_dir: "$tmp/data"}
logging: {level: $LOG_LEVEL, file: "$tmp/otedama.log"}
mining: {enable_cpu: false, enable_gpu: false, enable_asic: false}
pool:
  coin: bitcoin
  address: "127.0.0.1:$p_stratum"
  max_connections: $max_conn
  payout_address: "$ADDRESS"
  daemon: {url: "http://127.0.0.1:$p_rpc", user: "bench", password: "benchpass"}
  difficulty: {initial: 1, min: 2.3283064365386963e-10, max: 1.0e12, target_share_time: 10s}
api: {enable: false, address: "127.0.0.1:$p_api"}
monitoring:
  metrics: {address: "127.0.0.1:$p_metrics"}
  health: {address: "127.0.0.1:$p_health"}
YAML

echo "== otedama serve (bitcoin / sha256d pool) on 127.0.0.1:$p_stratum, log level $LOG_LEVEL"
# shellcheck disable=SC2086
timeout -k 5 "$limit" $SERVER_WRAP "$otedama" serve --config "$tmp/pool.yaml" >"$tmp/serve.out" 2>&1 &
wrapper=$!
pids+=("$wrapper")
ok=
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$p_health/ready" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
if [[ -z $ok ]]; then
  echo "the node did not become ready:" >&2; tail -30 "$tmp/serve.out" >&2; cat "$tmp/fake.log" >&2; exit 1
fi
server_pid=$(pgrep -n -f -- "serve --config $tmp/pool.yaml" | head -1)
[[ -n $server_pid ]] || { echo "cannot find the server's pid" >&2; exit 1; }
# Under a profiler the newest match is the server itself (the wrapper's child).
echo "== server pid $server_pid ready: $(curl -fsS "http://127.0.0.1:$p_health/ready" | head -c 200)"

json_args=()
[[ -n ${JSON:-} ]] && json_args=(--json "$JSON")
set +e
timeout -k 5 "$limit" "$load" --port "$p_stratum" --address "$ADDRESS" --diff "$DIFF" \
  --connections "$CONNECTIONS" --submitters "$SUBMITTERS" --rates "$RATES" \
  --phase-seconds "$PHASE_SECONDS" --drain-seconds "$DRAIN_SECONDS" --threads "$THREADS" \
  --pid "$server_pid" ${TIMELINE:+--timeline "$TIMELINE"} "${json_args[@]}"
rc=$?
set -e
echo "== load after: $(uptime)"
echo "== server's share counters (Prometheus):"
curl -fsS "http://127.0.0.1:$p_metrics/metrics" | grep -E '^otedama_(stratum_)?shares_total|^otedama_stratum_connections |^otedama_blocks_found' || true

kill -TERM "$server_pid" 2>/dev/null || true
wait "$wrapper" 2>/dev/null || true
kill -TERM "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
pids=()
cat "$tmp/fake.log"
echo "== server warnings/errors:"
grep -E '\[(warning|error|critical)\]' "$tmp/serve.out" | head -20 || true
exit $rc
