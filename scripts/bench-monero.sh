#!/usr/bin/env bash
# The RandomX pool's share-check figures (docs/perf-monero.md): monerod regtest (a difficulty
# no share reaches, so the template never changes), `otedama serve` with a Monero pool in
# fast or light mode, and bench/monero_load: pre-computed valid shares submitted closed-loop
# (the pool's check throughput, compared with librandomx's own fast-mode hash rate per thread
# measured by the generator in the same run), then open-loop at half that throughput (latency).
# Everything on 127.0.0.1 under a hard `timeout`.
#
#   scripts/bench-monero.sh [BUILD_DIR]      MODE=fast|light CLIENTS=32 SHARES=100
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[[ $build = /* ]] || build=$root/$build
MODE=${MODE:-fast}
CLIENTS=${CLIENTS:-32}
SHARES=${SHARES:-$([ "$MODE" = fast ] && echo 100 || echo 12)}
ADDRESS=4AzKEX4gXdJdNeM6dfiBFL7kqund3HYGvMBF3ttsNd9SfzgYB6L7ep1Yg1osYJzLdaKAYSLVh6e6jKnAuzj3bw1oGy9kXCb
for b in "$build/otedama" "$build/bench/monero_load"; do
  [[ -x $b ]] || { echo "missing $b: ninja -C $build otedama monero_load" >&2; exit 2; }
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d /tmp/otedama-bench-monero.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; sleep 1;
            for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
rpc=$(port) p2p=$(port) stratum=$(port) metrics=$(port) health=$(port) api=$(port)
timeout 900 monerod --regtest --offline --fixed-difficulty 1000000000000 --data-dir "$tmp/xmr" \
  --p2p-bind-ip 127.0.0.1 --p2p-bind-port "$p2p" --rpc-bind-ip 127.0.0.1 --rpc-bind-port "$rpc" \
  --rpc-ssl disabled --non-interactive --no-igd --log-level 0 --log-file "$tmp/monerod.log" >/dev/null 2>&1 &
pids+=($!)
cat > "$tmp/otedama.yaml" <<YAML
app: {name: bench, data_dir: "$tmp/data"}
logging: {level: warn, file: "$tmp/otedama.log"}
mining: {enable_cpu: false}
pool:
  coin: monero
  address: "127.0.0.1:$stratum"
  payout_address: "$ADDRESS"
  daemon: {url: "http://127.0.0.1:$rpc"}
  difficulty: {initial: 1, min: 1, target_share_time: 10s}
  randomx_mode: $MODE
api: {address: "127.0.0.1:$api"}
monitoring: {metrics: {address: "127.0.0.1:$metrics"}, health: {address: "127.0.0.1:$health"}}
YAML
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$rpc/get_height" >/dev/null && break; sleep 0.1; done
timeout 900 "$build/otedama" serve --config "$tmp/otedama.yaml" >"$tmp/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$health/ready" >/dev/null && break; sleep 0.1; done
echo "uptime: $(uptime)"
echo "mode $MODE, $CLIENTS clients x $SHARES shares, pool worker threads: $(nproc)"
if [ "$MODE" = fast ]; then
  echo "waiting for the pool's dataset..."
  for _ in $(seq 1200); do
    curl -s "http://127.0.0.1:$metrics/metrics" | grep -q '^otedama_randomx_fast_ready{.*} 1' && break; sleep 0.25
  done
fi
closed=$(timeout 600 "$build/bench/monero_load" --port "$stratum" --address "$ADDRESS" --clients "$CLIENTS" \
  --shares "$SHARES" --window 4 --seconds 300)
echo "$closed"
rate=$(sed -n 's/^RESULT .*accepted_per_s=\([0-9.]*\).*/\1/p' <<<"$closed")
base=$(sed -n 's/^RESULT baseline_per_thread=\([0-9.]*\).*/\1/p' <<<"$closed")
threads=$(nproc)
awk -v r="$rate" -v b="$base" -v t="$threads" 'BEGIN { printf "pool: %.1f shares/s on %d threads = %.1f per thread; librandomx fast %.1f H/s per thread; ratio %.3f\n", r, t, r/t, b, (r/t)/b }'
half=$(awk -v r="$rate" 'BEGIN { printf "%d", r/2 }')
open=$(timeout 600 "$build/bench/monero_load" --port "$stratum" --address "$ADDRESS" --clients "$CLIENTS" \
  --shares "$SHARES" --rate "$half" --seconds 300)
grep -E "^submitted|^RESULT" <<<"$open"
curl -s "http://127.0.0.1:$metrics/metrics" | grep -E '^otedama_randomx_checks_total' || true
