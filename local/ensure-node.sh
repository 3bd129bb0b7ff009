#!/usr/bin/env bash
# Prints the directory of a Node matching .nvmrc's major version: the system node's when it matches or is newer,
# else one provisioned from the npm registry (`node-linux-<arch>@<.nvmrc>`) into .toolchain/, once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wanted="$(tr -d ' \n\rv' < "$root/.nvmrc")"
wanted_major="${wanted%%.*}"

system_node="$(command -v node || true)"
if [ -n "$system_node" ] && [ "$("$system_node" -p 'process.versions.node.split(".")[0]')" -ge "$wanted_major" ]; then
  dirname "$system_node"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "[deps] no Node $wanted package for $(uname -m)" >&2; exit 1 ;;
esac
target="$root/.toolchain/node-v$wanted-linux-$arch"
if [ ! -x "$target/bin/node" ]; then
  echo "[deps] Node $wanted from the npm registry (node-linux-$arch@$wanted) into .toolchain/" >&2
  mkdir -p "$root/.toolchain"
  staging="$(mktemp -d "$root/.toolchain/.staging.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  tarball="$(cd "$staging" && npm pack --silent "node-linux-$arch@$wanted")"
  tar -xzf "$staging/$tarball" -C "$staging" package/bin/node
  "$staging/package/bin/node" --version >/dev/null
  mkdir -p "$target"
  mv "$staging/package/bin" "$target/bin"
fi
echo "$target/bin"
