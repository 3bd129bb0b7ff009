#!/bin/sh
# Container entry point, and the job's cmd: kubejobs creates the pod with `command = plugin_info.cmd`, which
# replaces the image's ENTRYPOINT, so the job must name this script (lib/enclave-image/layout.ts JOB_WORKER_CMD).
# It runs natively, outside the enclave. kubejobs passes REDIS_HOST (the local emulators also REDIS_PORT/REDIS_DB)
# as container environment, but in HW mode the Palaemon session's environment REPLACES the enclave's, so these
# values would be lost. They are written to /env/<NAME>, where the worker falls back to them; the session's
# WORKER_ENV_FILES allows only these non-secret names from files.
# Then node is exec'd: SCONE attests it (SCONE_CONFIG_ID) and CAS supplies the command and the secrets.
set -eu
mkdir -p /env
for name in REDIS_HOST REDIS_PORT REDIS_DB REDIS_QUEUE; do
  eval "value=\${$name:-}"
  if [ -n "$value" ]; then printf '%s\n' "$value" > "/env/$name"; fi
done
exec node /app/worker.mjs "$@"
