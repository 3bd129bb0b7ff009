#!/bin/sh
# SCONE file-system protection for the worker image. Runs at image build time inside the SCONE Node image (it needs
# the `scone` CLI), from the Dockerfile's `fspf` stage. Usage: fspf.sh FSPF_PATH KEYTAG_OUT
#
# Regions (each file belongs to the region with the longest matching path prefix):
#   /          not protected  the base image; node's own binary is covered by MRENCLAVE instead
#   /app       authenticated  worker.mjs, radiomics/classifier.json, package.json: the code node interprets, which
#                             MRENCLAVE does not cover; any change makes the FSPF tag (held by CAS) mismatch
#   /usr/lib   authenticated  ffmpeg's shared libraries (libav*, codecs), loaded by the sconified ffmpeg
#   /spool     encrypted      where the worker spools each decrypted clip for ffmpeg (SPOOL_DIR=/spool)
#   /dev/shm   encrypted      the worker's default spool when SPOOL_DIR is unset, so plaintext is never clear
#   /tmp       encrypted      anything else a library writes to os.tmpdir()
# The encrypted regions are `--encrypted --kernel <dir>`: backed by the container's kernel directory, so the ffmpeg
# child (another process) can read what node spooled. `scone fspf addr` takes `--kernel <dir>` OR `--ephemeral`, not
# both (issue 11; the sconedocs Fileshield transcript uses `addr fspf.pb /data --encrypted --kernel /data`), and an
# ephemeral region lives in one process's memory. The files are gone with the container; whether writes at run
# time change the FSPF tag the CAS checks on the next start is not documented (each pod starts from the image's).
#
# `scone fspf encrypt` encrypts the FSPF with a fresh random key and prints
#   Encrypted file system protection file <path> AES-GCM tag: <32 hex> key: <64 hex>
# That line goes to KEYTAG_OUT, which the Dockerfile keeps out of the final image (see enclave/README.md).
set -eu
FSPF="${1:?usage: fspf.sh FSPF_PATH KEYTAG_OUT}"
KEYTAG="${2:?usage: fspf.sh FSPF_PATH KEYTAG_OUT}"

mkdir -p /spool /dev/shm /tmp
scone fspf create "$FSPF"
scone fspf addr "$FSPF" / --not-protected --kernel /
scone fspf addr "$FSPF" /app --authenticated --kernel /app
scone fspf addf "$FSPF" /app /app /app
scone fspf addr "$FSPF" /usr/lib --authenticated --kernel /usr/lib
scone fspf addf "$FSPF" /usr/lib /usr/lib /usr/lib
scone fspf addr "$FSPF" /spool --encrypted --kernel /spool
scone fspf addr "$FSPF" /dev/shm --encrypted --kernel /dev/shm
scone fspf addr "$FSPF" /tmp --encrypted --kernel /tmp
scone fspf encrypt "$FSPF" > "$KEYTAG"
# fail the build now, not at attestation time, if the output format changed
grep -Eq '^Encrypted file system protection file [^ ]+ AES-GCM tag: [0-9a-fA-F]{32} key: [0-9a-fA-F]{64}$' "$KEYTAG"
