import { describe, it, expect } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import {
  buildRadiomicsSession,
  buildSessionV03,
  buildTutorialSession,
  casErrorMessage,
  classifyCasError,
  parseCasAddress,
  parseCreateReply,
  scrub,
  sameSession,
  sessionSensitiveValues,
  SessionInputError,
  type EnclaveImage,
  type RadiomicsSessionInput,
} from '#lib/palaemon/index.js';
import { ConfigError } from '#lib/errors.js';

const KEY = Buffer.alloc(16, 7).toString('base64'); // BwcHBwcHBwcHBwcHBwcHBw==
const image: EnclaveImage = {
  mrenclave: '1'.repeat(64),
  imageName: 'registry.local/radiomics:1',
  fspfTag: 'b'.repeat(32),
  fspfKey: 'c'.repeat(64),
  fspfPath: '/fspf.pb',
};
const radiomics = (extra: Partial<RadiomicsSessionInput> = {}): RadiomicsSessionInput => ({
  format: '0.3',
  name: 'batch-1',
  image,
  command: 'node /app/enclave/worker.js',
  encryptionKey: KEY,
  environment: { ITEM_LEASE_SECS: '15' },
  ...extra,
});

function rejection(build: () => unknown): { reason: string; message: string } {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionInputError);
    return { reason: (error as SessionInputError).reason, message: (error as Error).message };
  }
  throw new Error('expected a SessionInputError');
}

describe('tutorial session YAML', () => {
  it('has the tutorial fields exactly, with numbers-as-strings quoted and no aliases', () => {
    const yaml = buildTutorialSession({
      name: 'batch-1',
      service: {
        image,
        command: 'python3 /app/worker.py --x "y"',
        environment: { ENCRYPTION_KEY: KEY, ITEM_LEASE_SECS: '15', FLAG: 'true' },
      },
    });
    expect(yaml).toBe(
      [
        'name: batch-1',
        'digest: create',
        'predecessor: null',
        'services:',
        '  - name: radiomics',
        '    image_name: registry.local/radiomics:1',
        '    mrenclaves:',
        `      - "${'1'.repeat(64)}"`,
        '    command: python3 /app/worker.py --x "y"',
        '    pwd: /app',
        '    environment:',
        `      ENCRYPTION_KEY: ${KEY}`,
        '      ITEM_LEASE_SECS: "15"',
        '      FLAG: "true"',
        '    tags:',
        '      - default',
        `    fspf_tag: ${'b'.repeat(32)}`,
        `    fspf_key: ${'c'.repeat(64)}`,
        '    fspf_path: /fspf.pb',
        'images:',
        '  - name: registry.local/radiomics:1',
        '    mrenclaves:',
        `      - "${'1'.repeat(64)}"`,
        '    tags:',
        '      - default',
        '',
      ].join('\n'),
    );
    expect(parseYaml(yaml).services[0].environment).toEqual({ ENCRYPTION_KEY: KEY, ITEM_LEASE_SECS: '15', FLAG: 'true' });
  });

  it('quotes values that YAML would otherwise misread, and round-trips them', () => {
    const environment = { A: 'yes', B: '0x1F', C: 'a: b', D: '- x', E: '#x', F: '', G: 'null', H: '  lead', I: "it's" };
    const yaml = buildTutorialSession({ name: 'n', service: { image, command: 'c', environment } });
    expect(parseYaml(yaml).services[0].environment).toEqual(environment);
  });

  it('lower-cases hex and carries the predecessor when updating', () => {
    const yaml = buildTutorialSession({
      name: 'n',
      predecessor: 'F'.repeat(64),
      service: { image: { ...image, mrenclave: 'AB'.repeat(32) }, command: 'c' },
    });
    const doc = parseYaml(yaml);
    expect(doc.predecessor).toBe('F'.repeat(64));
    expect(doc.services[0].mrenclaves).toEqual(['ab'.repeat(32)]);
  });
});

describe('session language 0.3 YAML', () => {
  it('puts the key in an ascii secret referenced as $$SCONE::ENCRYPTION_KEY$$', () => {
    const yaml = buildRadiomicsSession(
      radiomics({
        secretEnvironment: { OS_AUTH_TOKEN: 'tok' },
        tolerate: ['debug-mode'],
        ignoreAdvisories: ['INTEL-SA-00076'],
        version: '0.3.5',
        predecessor: 'f'.repeat(64),
      }),
    );
    expect(yaml).toBe(
      [
        'name: batch-1',
        'version: 0.3.5',
        `predecessor: ${'f'.repeat(64)}`,
        'access_policy:',
        '  read:',
        '    - CREATOR',
        '  update:',
        '    - CREATOR',
        'services:',
        '  - name: radiomics',
        '    image_name: registry.local/radiomics:1',
        '    mrenclaves:',
        `      - "${'1'.repeat(64)}"`,
        '    command: node /app/enclave/worker.js',
        '    pwd: /app',
        '    environment:',
        '      ENCRYPTION_KEY: $$SCONE::ENCRYPTION_KEY$$',
        '      OS_AUTH_TOKEN: $$SCONE::OS_AUTH_TOKEN$$',
        '      ITEM_LEASE_SECS: "15"',
        `    fspf_tag: ${'b'.repeat(32)}`,
        `    fspf_key: ${'c'.repeat(64)}`,
        '    fspf_path: /fspf.pb',
        'secrets:',
        '  - name: ENCRYPTION_KEY',
        '    kind: ascii',
        `    value: ${KEY}`,
        '  - name: OS_AUTH_TOKEN',
        '    kind: ascii',
        '    value: tok',
        'images:',
        '  - name: registry.local/radiomics:1',
        'security:',
        '  attestation:',
        '    mode: hardware',
        '    tolerate:',
        '      - debug-mode',
        '    ignore_advisories:',
        '      - INTEL-SA-00076',
        '',
      ].join('\n'),
    );
  });

  it('omits predecessor, secrets, tolerate and ignore_advisories when not given; attestation mode none', () => {
    const doc = parseYaml(buildSessionV03({ name: 'n', service: { image, command: 'c' }, attestationMode: 'none' }));
    expect(Object.keys(doc)).toEqual(['name', 'version', 'access_policy', 'services', 'images', 'security']);
    expect([doc.version, doc.security]).toEqual(['0.3', { attestation: { mode: 'none' } }]);
  });

  it('tolerates nothing by default: hardware mode with no tolerate or ignore_advisories', () => {
    expect(parseYaml(buildRadiomicsSession(radiomics())).security).toEqual({ attestation: { mode: 'hardware' } });
  });

  it('the tutorial format refuses the 0.3-only settings', () => {
    expect(rejection(() => buildRadiomicsSession(radiomics({ format: 'tutorial', tolerate: ['debug-mode'] })))).toEqual({
      reason: 'invalid_policy',
      message: 'invalid session format: tolerate, ignore_advisories, version and child services need the 0.3 format',
    });
  });

  it('the tutorial format of the radiomics session carries the key in the environment', () => {
    const doc = parseYaml(buildRadiomicsSession(radiomics({ format: 'tutorial', secretEnvironment: { OS_AUTH_TOKEN: 'tok' } })));
    expect(doc.services[0].environment).toEqual({ ENCRYPTION_KEY: KEY, ITEM_LEASE_SECS: '15', OS_AUTH_TOKEN: 'tok' });
    expect(doc.version).toBeUndefined();
  });
});

describe('session input validation', () => {
  const tutorial =
    (service: Partial<Parameters<typeof buildTutorialSession>[0]['service']>, name = 'n') =>
    () =>
      buildTutorialSession({ name, service: { image, command: 'c', ...service } });
  const withImage = (patch: Partial<EnclaveImage>) => tutorial({ image: { ...image, ...patch } });

  it.each([
    ['', 'invalid session name: must be 1-128 characters of A-Z a-z 0-9 _ - . ~ (it is empty)'],
    ['a'.repeat(129), 'invalid session name: must be 1-128 characters of A-Z a-z 0-9 _ - . ~ (it has 129 characters)'],
    ['bad/name', 'invalid session name: must be 1-128 characters of A-Z a-z 0-9 _ - . ~ (character 4 is not allowed)'],
  ])('session name %j', (name, message) => {
    expect(rejection(tutorial({}, name))).toEqual({ reason: 'invalid_session_name', message });
  });

  it('accepts every allowed character in a name', () => {
    expect(() => tutorial({}, 'Az09_-.~')()).not.toThrow();
  });

  it.each([
    [withImage({ mrenclave: 'a'.repeat(63) }), 'invalid_mrenclave', 'invalid mrenclave: expected 64 hex characters, got 63'],
    [
      withImage({ mrenclave: 'g'.repeat(64) }),
      'invalid_mrenclave',
      'invalid mrenclave: expected 64 hex characters, it contains a non-hex character',
    ],
    [withImage({ mrenclave: [] }), 'invalid_mrenclave', 'invalid mrenclave: at least one value is required'],
    [withImage({ fspfTag: 'b'.repeat(31) }), 'invalid_fspf_tag', 'invalid fspf tag: expected 32 hex characters, got 31'],
    [
      withImage({ fspfKey: 'z'.repeat(64) }),
      'invalid_fspf_key',
      'invalid fspf key: expected 64 hex characters, it contains a non-hex character',
    ],
    [withImage({ fspfKey: 'c'.repeat(10) }), 'invalid_fspf_key', 'invalid fspf key: expected 64 hex characters, got 10'],
    [withImage({ fspfPath: 'fspf.pb' }), 'invalid_fspf_path', 'invalid fspf path: expected an absolute path without control characters'],
    [withImage({ fspfPath: '/a\u0000b' }), 'invalid_fspf_path', 'invalid fspf path: expected an absolute path without control characters'],
    [withImage({ fspfPath: '/a\u001fb' }), 'invalid_fspf_path', 'invalid fspf path: expected an absolute path without control characters'],
    [withImage({ fspfPath: '/a\u007fb' }), 'invalid_fspf_path', 'invalid fspf path: expected an absolute path without control characters'],
    [
      withImage({ imageName: '-bad' }),
      'invalid_image_name',
      'invalid image name: expected 1-255 characters of A-Z a-z 0-9 . _ - / : @, starting with a letter or digit',
    ],
    [tutorial({ command: '  ' }), 'invalid_command', 'invalid command: expected a non-empty single-line string'],
    [tutorial({ command: 'a\nb' }), 'invalid_command', 'invalid command: expected a non-empty single-line string'],
    [tutorial({ pwd: 'app' }), 'invalid_pwd', 'invalid pwd: expected an absolute path without control characters'],
    [
      tutorial({ name: 'svc/x' }),
      'invalid_service_name',
      'invalid service name: must be 1-128 characters of A-Z a-z 0-9 _ - . ~ (character 4 is not allowed)',
    ],
    [
      tutorial({ environment: { '1BAD': 'x' } }),
      'invalid_environment',
      'invalid environment: variable name must match [A-Za-z_][A-Za-z0-9_]* (variable 1)',
    ],
    [
      () => buildTutorialSession({ name: 'n', predecessor: 'not-a-hash', service: { image, command: 'c' } }),
      'invalid_predecessor',
      'invalid predecessor: expected the current session hash (64 hex characters)',
    ],
  ])('%#: %s', (build, reason, message) => {
    expect(rejection(build as () => unknown)).toEqual({ reason, message });
  });

  it('accepts a path with any character besides the C0 controls and DEL', () => {
    expect(() => withImage({ fspfPath: '/a b/\u0080~é' })()).not.toThrow();
  });

  it('the fspf key is never echoed', () => {
    const secret = `${'deadbeef'.repeat(7)}zz`;
    expect(rejection(withImage({ fspfKey: secret })).message).not.toContain(secret);
  });

  it.each(['short', 'BwcHBwcHBwcHBwcHBwcHBw=', 'BwcHBwcHBwcHBwcHBwcHBwcH', 'BwcHBwcHBwcHBwcHBwcH-w=='])(
    'an invalid encryption key %j is refused without echoing it',
    (key) => {
      const r = rejection(() => buildRadiomicsSession(radiomics({ encryptionKey: key })));
      expect(r).toEqual({
        reason: 'invalid_encryption_key',
        message: 'invalid encryption key: expected 16 bytes as standard base64 (24 characters ending in ==)',
      });
    },
  );

  it('secrets: bad name, duplicates, bad kind, empty and non-hex binary values', () => {
    const v03 = (secrets: Parameters<typeof buildSessionV03>[0]['secrets']) => () =>
      buildSessionV03({ name: 'n', service: { image, command: 'c' }, secrets });
    expect(rejection(v03([{ name: '9x', kind: 'ascii', value: 'v' }])).message).toBe(
      'invalid secret 1: name must match [A-Za-z_][A-Za-z0-9_]*',
    );
    expect(
      rejection(
        v03([
          { name: 'X', kind: 'ascii', value: 'v' },
          { name: 'X', kind: 'ascii', value: 'w' },
        ]),
      ).message,
    ).toBe('invalid secret X: the name is used twice');
    expect(rejection(v03([{ name: 'X', kind: 'x509' as 'ascii', value: 'v' }])).message).toBe(
      'invalid secret X: kind must be ascii or binary',
    );
    expect(rejection(v03([{ name: 'X', kind: 'ascii', value: '' }])).message).toBe(
      'invalid secret X: the value must be a non-empty string',
    );
    expect(rejection(v03([{ name: 'X', kind: 'binary', value: 'AAE=' }])).message).toBe('invalid secret X: a binary value must be hex');
    expect(rejection(v03([{ name: 'X', kind: 'binary', value: 'abc' }])).message).toBe('invalid secret X: a binary value must be hex');
    expect(
      parseYaml(buildSessionV03({ name: 'n', service: { image, command: 'c' }, secrets: [{ name: 'X', kind: 'binary', value: '00ff' }] }))
        .secrets,
    ).toEqual([{ name: 'X', kind: 'binary', value: '00ff' }]);
  });

  it('policy entries, attestation mode and tolerate are checked', () => {
    const v03 = (extra: Partial<Parameters<typeof buildSessionV03>[0]>) => () =>
      buildSessionV03({ name: 'n', service: { image, command: 'c' }, ...extra });
    expect(rejection(v03({ accessPolicy: { read: ['EVERYONE'], update: ['CREATOR'] } })).message).toBe(
      'invalid access policy: entries must be CREATOR, ANY or NONE',
    );
    expect(rejection(v03({ attestationMode: 'sim' as 'none' })).message).toBe('invalid attestation mode: expected hardware or none');
    expect(rejection(v03({ tolerate: ['Debug Mode'] })).message).toBe(
      'invalid attestation tolerate entry: expected lower-case words joined by -',
    );
    expect(rejection(v03({ ignoreAdvisories: ['SA-76'] })).message).toBe(
      'invalid ignore_advisories entry: expected an advisory id such as INTEL-SA-00076, or *',
    );
    expect(rejection(v03({ version: '0.4' })).message).toBe('invalid session version: expected 0.3 or 0.3.N');
  });

  it('the radiomics builder refuses ENCRYPTION_KEY or a secret name in the plain environment', () => {
    expect(rejection(() => buildRadiomicsSession(radiomics({ environment: { ENCRYPTION_KEY: 'x' } }))).message).toBe(
      'invalid environment: ENCRYPTION_KEY is set by the session builder and must not be given as plain environment',
    );
    expect(rejection(() => buildRadiomicsSession(radiomics({ environment: { T: '1' }, secretEnvironment: { T: 'x' } }))).message).toBe(
      'invalid environment: T is set by the session builder and must not be given as plain environment',
    );
  });
});

describe('CAS address', () => {
  it('parses host:restPort:attestationPort', () => {
    expect(parseCasAddress('cas.example:8081:18765')).toEqual({
      host: 'cas.example',
      restPort: 8081,
      attestationPort: 18765,
      restUrl: 'https://cas.example:8081',
      attestationAddress: 'cas.example:18765',
    });
    expect(parseCasAddress('10.0.0.5:8081:18765').attestationAddress).toBe('10.0.0.5:18765');
    expect(parseCasAddress('[::1]:8081:18765')).toEqual({
      host: '::1',
      restPort: 8081,
      attestationPort: 18765,
      restUrl: 'https://[::1]:8081',
      attestationAddress: '[::1]:18765',
    });
  });

  it.each([
    ['', 'malformed CAS address "": expected host:restPort:attestationPort, e.g. cas.example:8081:18765'],
    ['cas.example', 'malformed CAS address "cas.example": expected host:restPort:attestationPort, e.g. cas.example:8081:18765'],
    ['cas.example:8081', 'malformed CAS address "cas.example:8081": expected host:restPort:attestationPort, e.g. cas.example:8081:18765'],
    [
      'cas.example:8081:18765:1',
      'malformed CAS address "cas.example:8081:18765:1": expected host:restPort:attestationPort, e.g. cas.example:8081:18765',
    ],
    [
      'cas.example:http:18765',
      'malformed CAS address "cas.example:http:18765": REST port must be a number (expected host:restPort:attestationPort)',
    ],
    ['cas.example:8081:70000', 'malformed CAS address "cas.example:8081:70000": attestation port 70000 is outside 1-65535'],
    ['cas.example:0:18765', 'malformed CAS address "cas.example:0:18765": REST port 0 is outside 1-65535'],
    ['cas_example:8081:18765', 'malformed CAS address "cas_example:8081:18765": "cas_example" is not a valid host name or IPv4 address'],
    [
      'https://cas:8081:18765',
      'malformed CAS address "https://cas:8081:18765": expected host:restPort:attestationPort, e.g. cas.example:8081:18765',
    ],
    ['[zz]:8081:18765', 'malformed CAS address "[zz]:8081:18765": "zz" is not an IPv6 address'],
  ])('%j is refused with a ConfigError', (text, message) => {
    expect(() => parseCasAddress(text)).toThrow(ConfigError);
    expect(() => parseCasAddress(text)).toThrow(message);
  });
});

describe('CAS replies', () => {
  it('parses the text create reply and the JSON one', () => {
    expect(parseCreateReply('Created Session[id=abc123, name=batch-1, status=Pending]\n')).toEqual({
      hash: 'abc123',
      name: 'batch-1',
      status: 'Pending',
    });
    expect(parseCreateReply('{"hash": "abc123"}')).toEqual({ hash: 'abc123' });
    expect(parseCreateReply('{"hash": "h", "name": "n", "status": "Active"}')).toEqual({ hash: 'h', name: 'n', status: 'Active' });
    expect(parseCreateReply('OK')).toBeNull();
    expect(parseCreateReply('{"hash": ""}')).toBeNull();
    expect(parseCreateReply('{broken')).toBeNull();
  });

  it('extracts messages from {"msg": [...]}, other JSON and text', () => {
    expect(casErrorMessage('{"msg": ["first", "second"]}')).toBe('first; second');
    expect(casErrorMessage('{"msg": "only"}')).toBe('only');
    expect(casErrorMessage('{"message": "m"}')).toBe('m');
    expect(casErrorMessage('  Could not create successor session.\n  Invalid previous session digest: Some("ab") != None ')).toBe(
      'Could not create successor session. Invalid previous session digest: Some("ab") != None',
    );
    expect(casErrorMessage('x'.repeat(500))).toBe(`${'x'.repeat(400)}…`);
  });

  it('classifies digest errors and statuses', () => {
    expect(classifyCasError(400, 'Could not create successor session. Invalid previous session digest: Some("ab12") != None')).toBe(
      'exists',
    );
    expect(classifyCasError(400, 'Could not create successor session. Invalid previous session digest: Some("ab12") != Some("cd34")')).toBe(
      'predecessor_mismatch',
    );
    expect(classifyCasError(400, 'Could not create successor session. Invalid previous session digest: None != Some("cd34")')).toBe(
      'predecessor_mismatch',
    );
    expect(classifyCasError(404, 'not found')).toBe('not_found');
    expect(classifyCasError(403, 'denied')).toBe('forbidden');
    expect(classifyCasError(401, 'denied')).toBe('forbidden');
    expect(classifyCasError(400, 'bad yaml')).toBe('rejected');
  });

  it('scrubs environment, secret and fspf key values out of messages', () => {
    const yaml = buildRadiomicsSession(radiomics({ secretEnvironment: { OS_AUTH_TOKEN: 'token-1234567' } }));
    const sensitive = sessionSensitiveValues(yaml);
    expect(sensitive).toEqual(['c'.repeat(64), KEY, 'token-1234567']);
    expect(scrub(`bad value ${KEY} near token-1234567`, sensitive)).toBe('bad value [redacted] near [redacted]');
  });
});

describe('sameSession: only the fields this project sets count', () => {
  const posted = parseYaml(buildRadiomicsSession(radiomics({ secretEnvironment: { OS_AUTH_TOKEN: 'tok' } })));
  /** The parts of a session read back from the CAS that these cases change. */
  interface SessionReadBack {
    creator?: string;
    persistency?: string;
    predecessor?: null;
    services: { mrenclaves?: string[]; attestation?: { mrenclave: string[] }[]; environment: Record<string, string> }[];
    secrets: { value?: string }[];
    security: { attestation: { tolerate: string[] } };
  }
  const readBack = (patch: (doc: SessionReadBack) => void) => {
    const doc = structuredClone(posted) as SessionReadBack;
    doc.creator = 'key-hash';
    doc.persistency = 'None';
    doc.predecessor = null;
    doc.services[0].attestation = [{ mrenclave: doc.services[0].mrenclaves! }];
    delete doc.services[0].mrenclaves;
    patch(doc);
    return doc;
  };

  it('accepts the normalised read-back: creator, persistency, predecessor null, MRENCLAVEs in an attestation section', () => {
    expect(
      sameSession(
        readBack(() => undefined),
        posted,
      ),
    ).toBe(true);
  });

  it('accepts a read-back without secret values, and refuses a changed setting, MRENCLAVE, secret or tolerate list', () => {
    expect(
      sameSession(
        readBack((d) => {
          for (const s of d.secrets) delete s.value;
        }),
        posted,
      ),
    ).toBe(true);
    expect(
      sameSession(
        readBack((d) => (d.services[0].environment.ITEM_LEASE_SECS = '16')),
        posted,
      ),
    ).toBe(false);
    expect(
      sameSession(
        readBack((d) => (d.services[0].attestation = [{ mrenclave: ['2'.repeat(64)] }])),
        posted,
      ),
    ).toBe(false);
    expect(
      sameSession(
        readBack((d) => (d.secrets[0].value = 'other')),
        posted,
      ),
    ).toBe(false);
    expect(
      sameSession(
        readBack((d) => (d.security.attestation.tolerate = ['debug-mode'])),
        posted,
      ),
    ).toBe(false);
  });
});
