/** OS_CLOUD for the command-line tools: a clouds.yaml cloud becomes the OS_* variables the one Swift reader takes. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCloudsYaml } from '#lib/swift/clouds-yaml.js';
import { KeystoneV3Auth, swiftAuthFromEnv } from '#lib/swift/auth.js';

let dir: string;
let file: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'clouds-'));
  file = join(dir, 'clouds.yaml');
  writeFileSync(
    file,
    [
      'clouds:',
      '  lab:',
      '    auth_type: v3applicationcredential',
      '    region_name: RegionTwo',
      '    interface: internal',
      '    auth:',
      '      auth_url: https://keystone.lab.example:5000/v3',
      '      application_credential_id: ac1',
      '      application_credential_secret: s3cret',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('OS_CLOUD and clouds.yaml', () => {
  it('fills in the named cloud as OS_* variables, which the Swift reader turns into application-credential auth', async () => {
    const env = await withCloudsYaml({ OS_CLOUD: 'lab' }, [join(dir, 'missing.yaml'), file]);
    expect(env).toEqual({
      OS_CLOUD: 'lab',
      OS_AUTH_URL: 'https://keystone.lab.example:5000/v3',
      OS_APPLICATION_CREDENTIAL_ID: 'ac1',
      OS_APPLICATION_CREDENTIAL_SECRET: 's3cret',
      OS_AUTH_TYPE: 'v3applicationcredential',
      OS_REGION_NAME: 'RegionTwo',
      OS_INTERFACE: 'internal',
    });
    const auth = swiftAuthFromEnv(env);
    expect([auth instanceof KeystoneV3Auth, auth.kind]).toEqual([true, 'keystone v3 application_credential']);
  });

  it('lets variables already set win over the file, and leaves the environment alone without OS_CLOUD', async () => {
    expect((await withCloudsYaml({ OS_CLOUD: 'lab', OS_REGION_NAME: 'RegionOne' }, [file])).OS_REGION_NAME).toBe('RegionOne');
    const plain = { OS_AUTH_URL: 'https://k.example/v3' };
    expect(await withCloudsYaml(plain, [file])).toBe(plain);
  });

  it('names the cloud and the file when the cloud is not there', async () => {
    await expect(withCloudsYaml({ OS_CLOUD: 'prod' }, [file])).rejects.toThrow(`OS_CLOUD=prod: no such cloud in ${file}`);
    await expect(withCloudsYaml({ OS_CLOUD: 'lab' }, [join(dir, 'none.yaml')])).rejects.toThrow('OS_CLOUD=lab: no clouds.yaml found');
  });
});
