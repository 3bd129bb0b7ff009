/**
 * Decodes a video into 8-bit BGR frames with ffmpeg, one frame at a time.
 *
 *   ffmpeg -v info -nostats -hide_banner -i <file | pipe:0> -f rawvideo -pix_fmt bgr24 -
 *
 * gives frames byte-identical to OpenCV's VideoCapture (docs/radiomics.md §0). The frame size is read from ffmpeg's
 * own description of the output stream on stderr, so nothing is probed twice. At most one frame (plus the pipe's
 * buffered chunks) is held in memory.
 *
 * Streams: MP4s whose `moov` index sits at the end (all the samples) cannot be decoded from a pipe, because ffmpeg
 * must seek. A Readable input is therefore spooled to a private temporary file (0600, in a fresh 0700 directory under
 * `spoolDir`, default os.tmpdir(); use a RAM-backed directory such as /dev/shm for decrypted clips) and removed
 * as soon as decoding ends.
 *
 * Errors are `DecodeError`s with a machine-readable reason:
 * - `empty`: the input has no bytes;
 * - `not_a_video`: ffmpeg cannot read it as a container, or it has no video stream;
 * - `no_frames`: a video stream that decodes to zero frames;
 * - `decode_failed`: ffmpeg failed mid-way (truncated/corrupt stream) or exited abnormally;
 * - `ffmpeg_unavailable`: the ffmpeg binary could not be started.
 * - `timeout`: decoding took longer than `timeoutMs`.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RejectedInput } from '#lib/errors.js';

export type DecodeErrorReason = 'empty' | 'not_a_video' | 'no_frames' | 'decode_failed' | 'ffmpeg_unavailable' | 'timeout';

export class DecodeError extends RejectedInput {
  constructor(
    override readonly reason: DecodeErrorReason,
    message: string,
    readonly detail?: string,
  ) {
    super(reason, message);
  }
}

export interface DecodedFrame {
  /** 0-based frame number */
  index: number;
  width: number;
  height: number;
  /** H × W × 3 BGR bytes, row-major; owned by the consumer */
  bgr: Uint8Array;
}

export interface DecodeOptions {
  /** ffmpeg binary; default env FFMPEG_PATH or /usr/bin/ffmpeg */
  ffmpegPath?: string;
  /** kill ffmpeg and fail with `timeout` after this long (default 120 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** where a Readable input is spooled (see above) */
  spoolDir?: string;
  /**
   * ffmpeg as an attested SCONE child (HW mode, enclave/README.md "ffmpeg in the enclave"): the session's ffmpeg
   * service supplies the whole command and takes the input file as host argument @@1, so only the path is passed;
   * `env` is the child's host environment (its SCONE_CONFIG_ID, CAS/LAS addresses, SCONE_HEAP...).
   */
  attested?: { env: Record<string, string> };
}

export type VideoInput = string | Readable;

const STDERR_LIMIT = 64 * 1024;

/** ffmpeg's arguments for a file input; the session's ffmpeg service repeats them with `@@1` as the input. */
export function ffmpegArgs(input: string): string[] {
  return ['-v', 'info', '-nostats', '-hide_banner', '-nostdin', '-i', input, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-'];
}

export function ffmpegPath(): string {
  return process.env.FFMPEG_PATH || '/usr/bin/ffmpeg';
}

/** Parses the output stream's `WxH` from ffmpeg's stderr, once the `Output #0` section has been printed. */
function parseOutputSize(stderr: string): { width: number; height: number } | null {
  const at = stderr.lastIndexOf('\nOutput #0');
  if (at < 0) return null;
  const m = /Stream #0:\d+[^\n]*: Video: rawvideo[^\n]*?, (\d+)x(\d+)/.exec(stderr.slice(at));
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

function classifyFailure(stderr: string, framesSeen: number, bytesIn: number): DecodeError {
  const detail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
  if (bytesIn === 0) return new DecodeError('empty', 'the video is empty (0 bytes)', detail);
  if (framesSeen > 0) return new DecodeError('decode_failed', `decoding failed after ${framesSeen} frames`, detail);
  if (/does not contain any stream|Output file #0 does not contain|matches no streams|no video stream/i.test(stderr)) {
    return new DecodeError('not_a_video', 'the input has no video stream', detail);
  }
  if (/Invalid data found|moov atom not found|could not find codec|Unknown format|error reading header|End of file/i.test(stderr)) {
    return new DecodeError('not_a_video', 'the input is not a readable video', detail);
  }
  return new DecodeError('decode_failed', 'ffmpeg could not decode the input', detail);
}

/**
 * Yields the frames of `input` (a file path or a readable byte stream) as BGR.
 * Breaking out of the loop early kills ffmpeg.
 */
export async function* decodeFrames(input: VideoInput, options: DecodeOptions = {}): AsyncGenerator<DecodedFrame> {
  if (typeof input !== 'string') {
    const dir = await mkdtemp(join(options.spoolDir ?? tmpdir(), 'radiomics-clip-'));
    try {
      const file = join(dir, 'clip');
      await pipeline(input, createWriteStream(file, { mode: 0o600 }));
      yield* decodeFrames(file, options);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  yield* decodeFile(input, options);
}

async function* decodeFile(input: string | Readable, options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  let bytesIn = -1; // unknown until counted
  if (typeof input === 'string') {
    const info = await stat(input).catch((error: NodeJS.ErrnoException) => {
      throw new DecodeError('not_a_video', `cannot read the input file (${error.code ?? 'error'})`);
    });
    if (!info.isFile()) throw new DecodeError('not_a_video', 'the input is not a regular file');
    if (info.size === 0) throw new DecodeError('empty', 'the video is empty (0 bytes)');
    bytesIn = info.size;
  }

  let args: string[];
  if (typeof input !== 'string') args = ffmpegArgs('pipe:0').filter((arg) => arg !== '-nostdin');
  else args = options.attested ? [input] : ffmpegArgs(input);

  const child = spawn(options.ffmpegPath ?? ffmpegPath(), args, {
    stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(options.attested && typeof input === 'string' ? { env: options.attested.env } : {}),
  });

  let stderr = '';
  let spawnError: Error | null = null;
  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let timedOut = false;
  const chunks: Buffer[] = [];
  let buffered = 0;
  let streamEnded = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  child.on('error', (error) => {
    spawnError = error;
    exited = true;
    streamEnded = true;
    notify();
  });
  child.on('close', (code, signal) => {
    exited = true;
    exitCode = code;
    exitSignal = signal;
    notify();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
    notify();
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    if (buffered > 8 * 1024 * 1024) child.stdout!.pause(); // back-pressure: resumed as frames are taken
    notify();
  });
  child.stdout!.on('end', () => {
    streamEnded = true;
    notify();
  });

  if (typeof input !== 'string') {
    bytesIn = 0;
    const stdin = child.stdin!;
    stdin.on('error', () => {
      /* ffmpeg closed its input early (bad data): reported from its exit status */
    });
    input.on('data', (chunk: Buffer) => {
      bytesIn += chunk.length;
    });
    input.on('error', (error) => {
      stderr += `\ninput stream error: ${error.message}`;
      stdin.destroy();
    });
    input.pipe(stdin);
  }

  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs ?? 120_000);
  const onAbort = () => kill();
  options.signal?.addEventListener('abort', onAbort);

  const waitForEvent = () => new Promise<void>((resolve) => (wake = resolve));

  /** Takes exactly `size` bytes from the buffered chunks, or null if not yet available. */
  const take = (size: number): Uint8Array | null => {
    if (buffered < size) return null;
    const out = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const head = chunks[0];
      const need = size - filled;
      if (head.length <= need) {
        out.set(head, filled);
        filled += head.length;
        chunks.shift();
      } else {
        out.set(head.subarray(0, need), filled);
        chunks[0] = head.subarray(need);
        filled += need;
      }
    }
    buffered -= size;
    if (buffered <= 8 * 1024 * 1024 && child.stdout!.isPaused()) child.stdout!.resume();
    return out;
  };

  let index = 0;
  try {
    let size: { width: number; height: number } | null = null;
    for (;;) {
      if (spawnError) {
        throw new DecodeError('ffmpeg_unavailable', `cannot start ffmpeg: ${(spawnError as Error).message}`);
      }
      if (!size) size = parseOutputSize(stderr);
      if (size) {
        const frameBytes = size.width * size.height * 3;
        const bgr = take(frameBytes);
        if (bgr) {
          yield { index: index++, width: size.width, height: size.height, bgr };
          continue;
        }
      }
      if (streamEnded && exited) break;
      await waitForEvent();
    }
    if (timedOut) throw new DecodeError('timeout', 'decoding timed out');
    if (options.signal?.aborted) throw new DecodeError('decode_failed', 'decoding was aborted');
    if (exitCode !== 0 || exitSignal) throw classifyFailure(stderr, index, bytesIn);
    if (buffered > 0) throw new DecodeError('decode_failed', 'ffmpeg produced a partial frame');
    if (index === 0) {
      if (bytesIn === 0) throw new DecodeError('empty', 'the video is empty (0 bytes)');
      throw new DecodeError('no_frames', 'the video has no decodable frames', stderr.trim().slice(-300));
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    kill();
  }
}
