#!/usr/bin/env bash
# Installs what `npm start`, `npm test` and the benchmarks need, idempotently: Node (.nvmrc, local/ensure-node.sh),
# npm packages (when node_modules is missing or older than package.json) and Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(bash local/ensure-node.sh):$PATH"
export PATH

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "[deps] npm install" >&2
  npm install --no-fund --no-audit >&2
fi

DEBS="swift swift-proxy swift-account swift-container swift-object memcached redis-server ffmpeg chromium orthanc orthanc-dicomweb dcmtk"
missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "[deps] missing Debian packages:$missing (run as root, or: sudo apt-get install -y$missing)" >&2
    exit 1
  fi
  echo "[deps] apt-get install$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends $missing >&2
fi
