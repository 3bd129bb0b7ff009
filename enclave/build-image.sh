#!/usr/bin/env bash
# Builds the enclave worker image and writes config.json, as the original build_image.sh did.
#   enclave/build-image.sh IMAGE_NAME [CONFIG_OUT=config.json]
# Needs docker with buildx, the SCONE registry login, and (for the final check) no SGX: it runs in SCONE_MODE=SIM.
# Env: SCONE_NODE_IMAGE, SCONE_FFMPEG_IMAGE (build args), and the SCONE_HEAP/SCONE_STACK/SCONE_ALLOW_DLOPEN values
# the job will run with — they change MRENCLAVE, so they must equal the job's (architecture.md, HW env).
set -euo pipefail
IMAGE="${1:?usage: build-image.sh IMAGE_NAME [CONFIG_OUT]}"
CONFIG_OUT="${2:-config.json}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HEAP="${SCONE_HEAP:-3G}"; STACK="${SCONE_STACK:-5M}"; DLOPEN="${SCONE_ALLOW_DLOPEN:-1}"
OUT="$(mktemp -d)"; chmod 700 "$OUT"
trap 'rm -rf "$OUT"' EXIT
BUILD_ARGS=()
[ -n "${SCONE_NODE_IMAGE:-}" ] && BUILD_ARGS+=(--build-arg "SCONE_NODE_IMAGE=$SCONE_NODE_IMAGE")
[ -n "${SCONE_FFMPEG_IMAGE:-}" ] && BUILD_ARGS+=(--build-arg "SCONE_FFMPEG_IMAGE=$SCONE_FFMPEG_IMAGE")

# 1. the bundle (no npm inside the image)
(cd "$ROOT" && node --import tsx enclave/build.ts dist/enclave >/dev/null)

# 2. the image, then the keytag from the same (cached) fspf stage; the keytag is never part of the image
docker buildx build "${BUILD_ARGS[@]}" -f "$ROOT/enclave/Dockerfile" --target image -t "$IMAGE" --load "$ROOT"
docker buildx build "${BUILD_ARGS[@]}" -f "$ROOT/enclave/Dockerfile" --target keytag --output "type=local,dest=$OUT" "$ROOT"

# 3. MRENCLAVE of node (and of the sconified ffmpeg) with the job's SCONE settings; SCONE_HASH=1 only prints it
docker run --rm -e SCONE_HASH=1 -e SCONE_ALPINE=1 -e SCONE_HEAP="$HEAP" -e SCONE_STACK="$STACK" -e SCONE_ALLOW_DLOPEN="$DLOPEN" \
  --entrypoint node "$IMAGE" > "$OUT/mrenclave"
docker run --rm -e SCONE_HASH=1 -e SCONE_ALPINE=1 -e SCONE_HEAP="$HEAP" -e SCONE_STACK="$STACK" -e SCONE_ALLOW_DLOPEN="$DLOPEN" \
  --entrypoint /usr/bin/ffmpeg "$IMAGE" > "$OUT/ffmpeg-mrenclave"

# 4. config.json (0600: it holds the FSPF key)
(cd "$ROOT" && node bin/radiomics.js enclave-config --keytag "$OUT/keytag" --mrenclave "$OUT/mrenclave" \
  --ffmpeg-mrenclave "$OUT/ffmpeg-mrenclave" --image "$IMAGE" --out "$CONFIG_OUT")

# 5. the image and the keytag belong together: in SIM mode the worker only starts if the FSPF key and tag match
TAG="$(awk '{print $9}' "$OUT/keytag")"; KEY="$(awk '{print $11}' "$OUT/keytag")"
docker run --rm -e SCONE_MODE=SIM -e SCONE_FSPF=/fspf.pb -e SCONE_FSPF_TAG="$TAG" -e SCONE_FSPF_KEY="$KEY" \
  -e SCONE_HEAP="$HEAP" -e SCONE_STACK="$STACK" -e SCONE_ALLOW_DLOPEN="$DLOPEN" --entrypoint node "$IMAGE" /app/worker.mjs --help >/dev/null
echo "built $IMAGE; enclave facts in $CONFIG_OUT" >&2
