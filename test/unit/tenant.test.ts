import { describe, it, expect } from '@jest/globals';
import { isTenant, parseTenant, tenantOfKey } from '#lib/tenant.js';

describe('tenant names', () => {
  it('accepts lowercase letters, digits and hyphens after the first character, up to 63 characters', () => {
    for (const name of ['a', '0', 'hospital-a', 'h-1-2', 'a-', 'x'.repeat(63)]) expect([name, isTenant(name)]).toEqual([name, true]);
  });

  it('refuses capitals, a leading hyphen, separators, table-key characters and names over 63 characters', () => {
    for (const name of ['', 'Hospital', '-a', 'a_b', 'a.b', 'a/b', 'a b', 'TENANT#a', 'a#b', 'x'.repeat(64), 'ä'])
      expect([name, isTenant(name)]).toEqual([name, false]);
    for (const value of [undefined, null, 42, ['a'], { tenant: 'a' }]) expect(isTenant(value)).toBe(false);
  });

  it('parses to a tenant, or says whether it was missing or invalid', () => {
    expect(parseTenant('hospital-a')).toEqual({ ok: true, tenant: 'hospital-a' });
    expect(parseTenant(undefined)).toEqual({ ok: false, reason: 'missing_tenant' });
    expect(parseTenant('')).toEqual({ ok: false, reason: 'missing_tenant' });
    expect(parseTenant('Hospital#A')).toEqual({ ok: false, reason: 'invalid_tenant' });
    expect(parseTenant(7)).toEqual({ ok: false, reason: 'invalid_tenant' });
  });
});

describe('the tenant of an intake key', () => {
  it('is the first segment of `<tenant>/<anything>`', () => {
    expect(tenantOfKey('hospital-a/scan.mp4')).toEqual({ ok: true, tenant: 'hospital-a' });
    expect(tenantOfKey('hospital-a/dicom/1.2.3.dcm')).toEqual({ ok: true, tenant: 'hospital-a' });
  });

  it('is missing without a prefix or without anything after it', () => {
    for (const key of ['scan.mp4', '/scan.mp4', 'hospital-a/'])
      expect([key, tenantOfKey(key)]).toEqual([key, { ok: false, reason: 'missing_tenant' }]);
  });

  it('is invalid when the prefix is not a tenant name', () => {
    for (const key of ['Hospital A/scan.mp4', 'hospital_a/scan.mp4', `${'x'.repeat(64)}/scan.mp4`])
      expect([key, tenantOfKey(key)]).toEqual([key, { ok: false, reason: 'invalid_tenant' }]);
  });
});
