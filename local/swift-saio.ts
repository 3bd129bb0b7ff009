/**
 * OpenStack Swift All-In-One (SAIO) from the Debian packages, on loopback.
 *
 * Emulates: nothing. This is the real Swift 2.30 (proxy, account, container and object servers), each started as
 * `/usr/bin/swift-*-server CONF -v` with `workers = 0`, so each daemon is one PID that `stop` can kill.
 * The proxy pipeline carries tempurl, s3api, tempauth, slo and dlo; TempAuth has `test:tester` / `testing` (.admin)
 * on account `AUTH_test`, so the same credentials also serve Swift's S3-compatible endpoint.
 *
 * Not provided: replicators, auditors, updaters, expirers (one replica on one device needs none of them; account
 * statistics in `HEAD /v1/AUTH_test` therefore lag), Keystone (see test/support/keystone-fake.ts), TLS.
 *
 * Everything lives under `<repo>/.local/swift/` except `/etc/swift/swift.conf`, which every Swift daemon reads from
 * that fixed path: it is written when missing and otherwise left alone.
 *
 * This module only describes the daemons and prepares configs and rings; `local/services.ts` runs them (through
 * local/daemon-supervisor.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export const SWIFT_ETC_CONF = '/etc/swift/swift.conf';
/** Debian's system interpreter: a pyenv `python3` on PATH cannot import swift. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface SwiftPorts {
  proxy: number;
  object: number;
  container: number;
  account: number;
}

export const DEFAULT_SWIFT_PORTS: SwiftPorts = { proxy: 18080, object: 16010, container: 16011, account: 16012 };

export const SAIO_ACCOUNT = 'AUTH_test';
export const SAIO_USER = 'test:tester';
export const SAIO_KEY = 'testing';

export type SwiftServer = 'proxy' | 'account' | 'container' | 'object';
export const SWIFT_SERVERS: readonly SwiftServer[] = ['account', 'container', 'object', 'proxy'];

export interface SaioLayout {
  swiftDir: string;
  devicesDir: string;
  device: string;
  ports: SwiftPorts;
  memcachedPort: number;
}

export function saioLayout(localDir: string, ports: SwiftPorts, memcachedPort: number): SaioLayout {
  const swiftDir = join(localDir, 'swift');
  return { swiftDir, devicesDir: join(swiftDir, 'devices'), device: 'd1', ports, memcachedPort };
}

export function confPath(layout: SaioLayout, server: SwiftServer): string {
  return join(layout.swiftDir, `${server}-server.conf`);
}

/** The command line of one daemon. `-v` keeps a console log handler, so stderr (our log file) gets the log. */
export function serverCommand(layout: SaioLayout, server: SwiftServer): { command: string; args: string[] } {
  return { command: `/usr/bin/swift-${server}-server`, args: [confPath(layout, server), '-v'] };
}

export function healthUrl(layout: SaioLayout, server: SwiftServer): string {
  return `http://127.0.0.1:${layout.ports[server]}/healthcheck`;
}

function commonDefaults(layout: SaioLayout, port: number): string {
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    `user = ${userInfo().username}`,
    `swift_dir = ${layout.swiftDir}`,
    `devices = ${layout.devicesDir}`,
    'mount_check = false',
    'disable_fallocate = true',
    'log_level = INFO',
    '',
  ].join('\n');
}

function backendConf(layout: SaioLayout, server: 'account' | 'container' | 'object'): string {
  const extra =
    server === 'object'
      ? // 1 GiB objects: the default max_file_size (5 GiB + 2) applies; keep the proxy/object timeouts generous.
        ['network_chunk_size = 65536', 'disk_chunk_size = 65536', 'node_timeout = 60', 'conn_timeout = 2']
      : [];
  return [
    commonDefaults(layout, layout.ports[server]),
    '[pipeline:main]',
    `pipeline = healthcheck ${server}-server`,
    '',
    `[app:${server}-server]`,
    `use = egg:swift#${server}`,
    `set log_name = ${server}-server`,
    ...extra,
    '',
    '[filter:healthcheck]',
    'use = egg:swift#healthcheck',
    '',
  ].join('\n');
}

function proxyConf(layout: SaioLayout): string {
  return [
    commonDefaults(layout, layout.ports.proxy),
    'expose_info = true',
    '',
    '[pipeline:main]',
    'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server',
    '',
    '[app:proxy-server]',
    'use = egg:swift#proxy',
    'account_autocreate = true',
    'allow_account_management = true',
    // Large objects: the object server may fsync a 1 GiB file before it answers.
    'node_timeout = 60',
    'recoverable_node_timeout = 30',
    'conn_timeout = 2',
    'client_timeout = 120',
    '',
    '[filter:tempauth]',
    'use = egg:swift#tempauth',
    `user_${SAIO_USER.replace(':', '_')} = ${SAIO_KEY} .admin`,
    'user_admin_admin = admin .admin .reseller_admin',
    'token_life = 86400',
    '',
    '[filter:s3api]',
    'use = egg:swift#s3api',
    'location = us-east-1',
    '',
    '[filter:tempurl]',
    'use = egg:swift#tempurl',
    'allowed_digests = sha1 sha256 sha512',
    '',
    '[filter:cache]',
    'use = egg:swift#memcache',
    `memcache_servers = 127.0.0.1:${layout.memcachedPort}`,
    '',
    '[filter:slo]',
    'use = egg:swift#slo',
    '',
    '[filter:dlo]',
    'use = egg:swift#dlo',
    '',
    '[filter:copy]',
    'use = egg:swift#copy',
    '',
    '[filter:bulk]',
    'use = egg:swift#bulk',
    '',
    '[filter:versioned_writes]',
    'use = egg:swift#versioned_writes',
    'allow_versioned_writes = true',
    '',
    '[filter:symlink]',
    'use = egg:swift#symlink',
    '',
    '[filter:listing_formats]',
    'use = egg:swift#listing_formats',
    '',
    '[filter:healthcheck]',
    'use = egg:swift#healthcheck',
    '',
    '[filter:catch_errors]',
    'use = egg:swift#catch_errors',
    '',
    '[filter:gatekeeper]',
    'use = egg:swift#gatekeeper',
    '',
    '[filter:proxy-logging]',
    'use = egg:swift#proxy_logging',
    '',
  ].join('\n');
}

const SWIFT_CONF_TEMPLATE = `[swift-hash]
swift_hash_path_suffix = trustworthy-radiomics-local
swift_hash_path_prefix = trustworthy-radiomics-local

[storage-policy:0]
name = Policy-0
default = yes
`;

/** `/etc/swift/swift.conf` must exist at that fixed path; write it when missing, never overwrite an existing one. */
export function ensureSwiftEtcConf(): { written: boolean } {
  if (existsSync(SWIFT_ETC_CONF)) return { written: false };
  mkdirSync('/etc/swift', { recursive: true });
  writeFileSync(SWIFT_ETC_CONF, SWIFT_CONF_TEMPLATE, { mode: 0o644 });
  return { written: true };
}

/**
 * Writes the four server configs. Returns the servers whose config changed (they need a restart).
 */
export function writeSaioConfigs(layout: SaioLayout): SwiftServer[] {
  mkdirSync(join(layout.devicesDir, layout.device), { recursive: true });
  const changed: SwiftServer[] = [];
  for (const server of SWIFT_SERVERS) {
    const text = server === 'proxy' ? proxyConf(layout) : backendConf(layout, server);
    const path = confPath(layout, server);
    const old = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (old !== text) {
      writeFileSync(path, text);
      changed.push(server);
    }
  }
  return changed;
}

const RING_SCRIPT = `
import json, sys
from swift.common.ring import RingBuilder
spec = json.loads(sys.argv[1])
for kind, port in spec["rings"]:
    builder = RingBuilder(8, 1, 0)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                     "device": spec["device"], "weight": 100, "meta": ""})
    builder.rebalance()
    builder.get_ring().save("%s/%s.ring.gz" % (spec["dir"], kind))
print("rings ok")
`;

function ringFile(layout: SaioLayout, kind: 'account' | 'container' | 'object'): string {
  return join(layout.swiftDir, `${kind}.ring.gz`);
}

function ringSpecFile(layout: SaioLayout): string {
  return join(layout.swiftDir, 'rings.json');
}

function ringSpec(layout: SaioLayout): string {
  return JSON.stringify({
    dir: layout.swiftDir,
    device: layout.device,
    rings: [
      ['account', layout.ports.account],
      ['container', layout.ports.container],
      ['object', layout.ports.object],
    ],
  });
}

/** True when the three rings exist and were built for the current ports and device. */
export function ringsAreCurrent(layout: SaioLayout): boolean {
  const kinds = ['account', 'container', 'object'] as const;
  if (!kinds.every((k) => existsSync(ringFile(layout, k)))) return false;
  try {
    return readFileSync(ringSpecFile(layout), 'utf8') === ringSpec(layout);
  } catch {
    return false;
  }
}

/** Builds the account, container and object rings in ONE system-python process (~1.4 s; the CLI is ~10 s a call). */
export async function buildRings(layout: SaioLayout): Promise<void> {
  mkdirSync(layout.swiftDir, { recursive: true });
  const spec = ringSpec(layout);
  await runSystemPython(RING_SCRIPT, [spec]);
  writeFileSync(ringSpecFile(layout), spec);
}

/** An environment for Debian's python: no pyenv or virtualenv variables leaking in. */
export function systemPythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PYTHON') || k.startsWith('PYENV') || k === 'VIRTUAL_ENV') continue;
    env[k] = v;
  }
  env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

function runSystemPython(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(SYSTEM_PYTHON, ['-c', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: systemPythonEnv(),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`ring build failed (exit ${code}): ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}
