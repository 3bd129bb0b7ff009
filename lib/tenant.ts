/**
 * A tenant is one hospital: the first segment of its intake keys (`<tenant>/<anything>`), a claim of its tokens,
 * and the owner of every row the API answers with. One rule for its name everywhere: lowercase letters, digits
 * and hyphens, starting with a letter or digit, 1 to 63 characters (a DNS label, so it fits container names).
 */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type TenantResult = { ok: true; tenant: string } | { ok: false; reason: 'missing_tenant' | 'invalid_tenant' };

export function isTenant(value: unknown): value is string {
  return typeof value === 'string' && TENANT_PATTERN.test(value);
}

export function parseTenant(value: unknown): TenantResult {
  if (value === undefined || value === null || value === '') return { ok: false, reason: 'missing_tenant' };
  return isTenant(value) ? { ok: true, tenant: value } : { ok: false, reason: 'invalid_tenant' };
}

/** The tenant is the first segment of the key: `<tenant>/<anything>`. */
export function tenantOfKey(key: string): TenantResult {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) return { ok: false, reason: 'missing_tenant' };
  return parseTenant(key.slice(0, slash));
}
