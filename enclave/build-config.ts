/**
 * Turns the enclave image build's output into `config.json`, as the original `build_image.sh` did:
 *
 *   {"mrenclave": "<64 hex>", "image-name": "<image>", "fspf-tag": "<32 hex>", "fspf-key": "<64 hex>", "fspf-path": "/fspf.pb"}
 *
 * Inputs (see enclave/build-image.sh, which produces them):
 * - the keytag file written by `scone fspf encrypt /fspf.pb > keytag`, one line:
 *     Encrypted file system protection file /fspf.pb AES-GCM tag: <32 hex> key: <64 hex>
 *   (the tag is field 9 and the key field 11 in the usual `awk` extraction);
 * - the MRENCLAVE of the interpreter, as printed by `SCONE_HASH=1 node` (a line of 64 hex and nothing else; with
 *   the SCONE_HEAP / SCONE_STACK / SCONE_ALLOW_DLOPEN values the job runs with, since they change it), or found in
 *   `SCONE_VERSION=1` debug output (`Enclave hash: <64 hex>`) or a signer's `MRENCLAVE: <64 hex>` line;
 * - optionally the MRENCLAVE of the sconified ffmpeg the worker execs: written as `mrenclaves: [node, ffmpeg]`
 *   (extra key) so the session can list both; `mrenclave` stays the worker's.
 *
 * Hex is normalised to lower case. Errors say what is wrong and never print the FSPF key.
 *
 * The command line is `radiomics enclave-config` (bin/commands/enclave-config.ts).
 */
import { ConfigError } from '#lib/errors.js';

export interface EnclaveImageConfig {
  mrenclave: string;
  'image-name': string;
  'fspf-tag': string;
  'fspf-key': string;
  'fspf-path': string;
  /** only with an ffmpeg MRENCLAVE: [worker interpreter, ffmpeg] */
  mrenclaves?: string[];
}

export interface Keytag {
  fspfPath: string;
  tag: string;
  key: string;
}

const KEYTAG_LINE = /Encrypted file system protection file (\S+) AES-GCM tag: (\S+) key: (\S+)/;

/** Parses `scone fspf encrypt` output. */
export function parseKeytag(text: string): Keytag {
  const lines = text.split(/\r?\n/).filter((l) => KEYTAG_LINE.test(l));
  if (lines.length === 0) {
    throw new ConfigError(
      'keytag: no "Encrypted file system protection file <path> AES-GCM tag: <hex> key: <hex>" line (is this the output of scone fspf encrypt?)',
    );
  }
  if (lines.length > 1) throw new ConfigError(`keytag: ${lines.length} protection-file lines; expected exactly one`);
  const [, fspfPath, tag, key] = KEYTAG_LINE.exec(lines[0])!;
  if (!/^[0-9a-fA-F]{32}$/.test(tag))
    throw new ConfigError(
      `keytag: the AES-GCM tag must be 32 hex characters, got ${tag.length} characters${/^[0-9a-fA-F]*$/.test(tag) ? '' : ' with non-hex ones'}`,
    );
  if (!/^[0-9a-fA-F]{64}$/.test(key))
    throw new ConfigError(
      `keytag: the key must be 64 hex characters, got ${key.length} characters${/^[0-9a-fA-F]*$/.test(key) ? '' : ' with non-hex ones'}`,
    );
  if (!fspfPath.startsWith('/'))
    throw new ConfigError('keytag: the protection file path must be absolute (it is the path inside the image)');
  return { fspfPath, tag: tag.toLowerCase(), key: key.toLowerCase() };
}

/** Finds the one MRENCLAVE (64 hex) in `SCONE_HASH=1`, `SCONE_VERSION=1` or signer output. */
export function parseMrenclave(text: string, what = 'mrenclave'): string {
  const found = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^[0-9a-fA-F]{64}$/.test(line)) found.add(line.toLowerCase());
    const labelled = /(?:enclave hash|mrenclave)\s*[:=]\s*"?([0-9a-fA-F]+)"?\s*$/i.exec(line);
    if (labelled) {
      if (labelled[1].length !== 64) throw new ConfigError(`${what}: an MRENCLAVE must be 64 hex characters, got ${labelled[1].length}`);
      found.add(labelled[1].toLowerCase());
    }
  }
  if (found.size === 0)
    throw new ConfigError(
      `${what}: no MRENCLAVE found (expected a line of 64 hex characters as printed by SCONE_HASH=1, or "Enclave hash: <64 hex>")`,
    );
  if (found.size > 1) throw new ConfigError(`${what}: ${found.size} different MRENCLAVE values found; pass the output of one binary`);
  return [...found][0];
}

/** A container image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path. */
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

export function buildEnclaveConfig(input: {
  keytag: string;
  mrenclave: string;
  imageName: string;
  ffmpegMrenclave?: string;
}): EnclaveImageConfig {
  if (!IMAGE_REFERENCE.test(input.imageName)) throw new ConfigError('image-name: not a valid container image reference');
  const keytag = parseKeytag(input.keytag);
  const mrenclave = parseMrenclave(input.mrenclave);
  const config: EnclaveImageConfig = {
    mrenclave,
    'image-name': input.imageName,
    'fspf-tag': keytag.tag,
    'fspf-key': keytag.key,
    'fspf-path': keytag.fspfPath,
  };
  if (input.ffmpegMrenclave !== undefined) config.mrenclaves = [mrenclave, parseMrenclave(input.ffmpegMrenclave, 'ffmpeg mrenclave')];
  return config;
}
