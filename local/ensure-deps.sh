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

DEBS="swift swift-proxy swift-account swift-container swift-object memcached redis-server ffmpeg chromium"
# only the PACS route of npm start and the Orthanc tests need these; without them those say so and the rest runs
PACS_DEBS="orthanc orthanc-dicomweb dcmtk"
missing=""
for p in $DEBS $PACS_DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    required=""
    for p in $missing; do case " $PACS_DEBS " in *" $p "*) ;; *) required="$required $p" ;; esac; done
    if [ -z "$required" ]; then
      echo "[deps] without$missing: no PACS route (sudo apt-get install -y$missing adds it)" >&2
      exit 0
    fi
    echo "[deps] missing Debian packages:$missing (run as root, or: sudo apt-get install -y$missing)" >&2
    exit 1
  fi
  echo "[deps] apt-get install$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends $missing >&2
fi
