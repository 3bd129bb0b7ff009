/**
 * Benchmark: how to write a sealed file `iv | tag | ciphertext` when the tag is only known at the end.
 *
 * Strategies, each file -> file with streams, into a temp file that is fsynced and renamed (as sealFile does):
 * - plain_copy:   no crypto, the baseline;
 * - seal_file:    lib/seal/cipher.ts sealFile: ciphertext at offset 28, then the head written at offset 0;
 * - two_pass:     encrypt once to learn the tag (ciphertext discarded), write the head, encrypt again;
 * - encrypt_only: one encryption pass, ciphertext discarded (the crypto cost alone, i.e. what streaming to
 *                 a Swift SLO costs locally before the network).
 *
 * Each measurement runs in its own child process, so `peak_rss_mb` is that process's
 * `process.resourceUsage().maxRSS` (it includes node + tsx, about the same for every strategy).
 * `seconds` is the median over the repetitions. Inputs are generated in /tmp and deleted afterwards.
 *
 * Prints one JSON line per measurement: {case, bytes, strategy, seconds, ratio_vs_plain_copy, peak_rss_mb, ...}.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { HEAD_BYTES, createSealStream, sealFile, sealedHead } from '#lib/seal/cipher.js';

const MiB = 1024 * 1024;
const CASES = [
  { name: '1MiB', bytes: 1 * MiB, reps: 21 },
  { name: '256MiB', bytes: 256 * MiB, reps: 3 },
  { name: '1GiB', bytes: 1024 * MiB, reps: 3 },
];
const STRATEGIES = ['plain_copy', 'seal_file', 'two_pass', 'encrypt_only'] as const;
type Strategy = (typeof STRATEGIES)[number];

// Fixed key and IV: benchmark only, so seal_file and two_pass outputs can be compared byte for byte.
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const IV = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaab', 'hex');

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(THIS_FILE), '..');

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function fsyncAndRename(tmp: string, out: string): Promise<void> {
  const fh = await open(tmp, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, out);
}

async function plainCopy(input: string, output: string): Promise<void> {
  const tmp = `${output}.tmp`;
  await pipeline(createReadStream(input), createWriteStream(tmp, { flags: 'wx' }));
  await fsyncAndRename(tmp, output);
}

async function twoPass(input: string, output: string): Promise<void> {
  const first = createSealStream(KEY, { iv: IV });
  await pipeline(createReadStream(input), first, discard());
  const tag = await first.tag;
  const tmp = `${output}.tmp`;
  const out = createWriteStream(tmp, { flags: 'wx' });
  out.write(sealedHead(IV, tag));
  const second = createSealStream(KEY, { iv: IV });
  await pipeline(createReadStream(input), second, out);
  if (!(await second.tag).equals(tag)) throw new Error('two_pass: the second pass produced another tag');
  await fsyncAndRename(tmp, output);
}

async function encryptOnly(input: string): Promise<void> {
  const seal = createSealStream(KEY, { iv: IV });
  await pipeline(createReadStream(input), seal, discard());
  await seal.tag;
}

async function runStrategy(strategy: Strategy, input: string, output: string): Promise<void> {
  switch (strategy) {
    case 'plain_copy':
      return plainCopy(input, output);
    case 'seal_file':
      await sealFile(KEY, input, output, { iv: IV });
      return;
    case 'two_pass':
      return twoPass(input, output);
    case 'encrypt_only':
      return encryptOnly(input);
  }
}

/** Child mode: run one strategy `reps` times, print {seconds (median), max_rss_kb}. */
async function child(strategy: Strategy, input: string, output: string, reps: number): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    await rm(output, { force: true });
    const start = process.hrtime.bigint();
    await runStrategy(strategy, input, output);
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ seconds: times[Math.floor(times.length / 2)], max_rss_kb: process.resourceUsage().maxRSS })}\n`);
}

function measure(strategy: Strategy, input: string, output: string, reps: number): Promise<{ seconds: number; max_rss_kb: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--child', strategy, input, output, String(reps)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) reject(new Error(`bench child ${strategy} exited ${code}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

async function generateInput(path: string, bytes: number): Promise<void> {
  const block = randomBytes(Math.min(bytes, 8 * MiB));
  const out = createWriteStream(path, { flags: 'wx' });
  async function* blocks() {
    for (let left = bytes; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
  }
  await pipeline(blocks, out);
}

async function headAndSize(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    await fh.read(head, 0, HEAD_BYTES, 0);
    return `${head.toString('hex')}:${(await fh.stat()).size}`;
  } finally {
    await fh.close();
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-seal-'));
  try {
    for (const c of CASES) {
      const input = join(dir, `input-${c.name}`);
      await generateInput(input, c.bytes);
      let plainSeconds = NaN;
      const sealedFacts: Partial<Record<Strategy, string>> = {};
      for (const strategy of STRATEGIES) {
        const output = join(dir, `output-${c.name}-${strategy}`);
        const { seconds, max_rss_kb } = await measure(strategy, input, output, c.reps);
        if (strategy === 'plain_copy') plainSeconds = seconds;
        if (strategy === 'seal_file' || strategy === 'two_pass') {
          sealedFacts[strategy] =
            c.bytes <= 16 * MiB
              ? createHash('sha256')
                  .update(await readFile(output))
                  .digest('hex')
              : await headAndSize(output); // the head carries the tag over the whole ciphertext
        }
        if (strategy !== 'encrypt_only' && (await stat(output)).size !== c.bytes + (strategy === 'plain_copy' ? 0 : HEAD_BYTES)) {
          throw new Error(`${strategy} wrote a file of the wrong size`);
        }
        await rm(output, { force: true });
        process.stdout.write(
          `${JSON.stringify({
            case: c.name,
            bytes: c.bytes,
            strategy,
            seconds: Number(seconds.toFixed(4)),
            ratio_vs_plain_copy: Number((seconds / plainSeconds).toFixed(2)),
            peak_rss_mb: Number((max_rss_kb / 1024).toFixed(1)),
            mib_per_s: Number((c.bytes / MiB / seconds).toFixed(1)),
            reps: c.reps,
          })}\n`,
        );
      }
      if (sealedFacts.seal_file !== sealedFacts.two_pass) throw new Error(`${c.name}: seal_file and two_pass outputs differ`);
      await rm(input, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === THIS_FILE) {
  if (process.argv[2] === '--child') {
    const [, , , strategy, input, output, reps] = process.argv;
    await child(strategy as Strategy, input, output, Number(reps));
  } else {
    await run();
  }
}
