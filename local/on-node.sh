#!/usr/bin/env bash
# Runs a command with the project's Node (.nvmrc, see local/ensure-node.sh) first on PATH.
set -euo pipefail
node_dir="$(bash "$(dirname "$0")/ensure-node.sh")"
export PATH="$node_dir:$PATH"
exec "$@"
