#!/usr/bin/env bash
# The local demo: runs the node from run/ with the demo config on loopback ports.
# Ctrl-C stops it cleanly.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/run"
cd "$root/run"
cat <<TXT
Otedama demo: starting the node (Ctrl-C stops it).
  health   http://127.0.0.1:8081/health   http://127.0.0.1:8081/ready
  metrics  http://127.0.0.1:9090/metrics
  API      http://127.0.0.1:8080/api/status      (or: $root/build/otedama status)
TXT
exec "$root/build/otedama" serve --config "$root/deploy/demo/otedama.yaml"
