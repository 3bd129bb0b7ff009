/** What `npx radiomics analyze CLIP --json` says of a plain clip: the reference an end-to-end result must equal. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '#local/service-endpoints.js';

const run = promisify(execFile);

export async function analyzePlain(clipPath: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'bin', 'radiomics.js'), 'analyze', clipPath, '--json'], {
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}
