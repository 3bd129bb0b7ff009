/** Validates real responses against openapi/status-api.yaml (OpenAPI 3.1 = JSON Schema 2020-12) with ajv. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { REPO_ROOT } from '#local/service-endpoints.js';

type Doc = {
  paths: Record<string, { get: { responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }> } }>;
  components: { responses: Record<string, { content: Record<string, { schema: unknown }> }> };
};
export const openapi = parse(readFileSync(join(REPO_ROOT, 'openapi', 'status-api.yaml'), 'utf8')) as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormatsModule as unknown as { default?: (a: Ajv2020) => void }).default?.(ajv) ??
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ ...(openapi as object), $id: 'openapi' });

/** Throws with ajv's errors unless `body` matches the documented response of `template` for `status`. */
export function assertContract(template: string, status: number, body: unknown, contentType = 'application/json'): void {
  const operation = openapi.paths[template]?.get;
  if (!operation) throw new Error(`no documented operation GET ${template}`);
  let response = operation.responses[String(status)];
  if (!response) throw new Error(`GET ${template} does not document status ${status}`);
  if (response.$ref) response = openapi.components.responses[response.$ref.split('/').pop()!];
  const media = response.content?.[contentType];
  if (!media) throw new Error(`GET ${template} ${status} does not document ${contentType}`);
  if (!media.schema) return;
  const ref = (media.schema as { $ref?: string }).$ref;
  const validate = ref ? ajv.getSchema(`openapi${ref}`) : ajv.compile(media.schema as object);
  if (!validate) throw new Error(`cannot compile the schema of GET ${template} ${status}`);
  if (!validate(body))
    throw new Error(`GET ${template} ${status} breaks the contract: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
}
