/** The enclave image facts, as the image build's config.json spells them (the original's format, plus
 *  `mrenclaves: [node, ffmpeg]` when enclave/build-config.ts was given the sconified ffmpeg's hash). */
import { z } from 'zod';
import { ConfigError } from '#lib/errors.js';
import type { EnclaveImage } from '#lib/palaemon/index.js';

const schema = z.object({
  mrenclave: z.union([z.string().regex(/^[0-9a-f]{64}$/i), z.array(z.string().regex(/^[0-9a-f]{64}$/i)).min(1)]),
  'image-name': z.string().min(1),
  'fspf-tag': z.string().regex(/^[0-9a-f]{32}$/i),
  'fspf-key': z.string().regex(/^[0-9a-f]{64}$/i),
  'fspf-path': z.string().startsWith('/'),
  mrenclaves: z
    .array(z.string().regex(/^[0-9a-f]{64}$/i))
    .min(1)
    .optional(),
});

export function parseEnclaveConfig(text: string): EnclaveImage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('enclave config: not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? 'config')))];
    throw new ConfigError(`enclave config: invalid or missing ${fields.join(', ')}`);
  }
  const c = parsed.data;
  return {
    mrenclave: c.mrenclaves ?? c.mrenclave,
    imageName: c['image-name'],
    fspfTag: c['fspf-tag'],
    fspfKey: c['fspf-key'],
    fspfPath: c['fspf-path'],
  };
}

export function parseSecretEnv(text: string, name: string): Record<string, string> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')) {
      return value as Record<string, string>;
    }
  } catch {
    /* reported below */
  }
  throw new ConfigError(`${name}: expected a JSON object of strings`);
}
