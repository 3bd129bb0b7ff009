/**
 * The CAS address as the original CLI takes it: `host:restPort:attestationPort`, e.g. `cas.example:8081:18765`.
 * IPv6 hosts are written in brackets: `[::1]:8081:18765`.
 */
import { ConfigError } from '#lib/errors.js';

export interface CasAddress {
  host: string;
  restPort: number;
  attestationPort: number;
  /** Base URL of the REST API, e.g. `https://cas.example:8081`. */
  restUrl: string;
  /** What enclaves get as `SCONE_CAS_ADDR`, e.g. `cas.example:18765`. */
  attestationAddress: string;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function parsePort(text: string, which: string, original: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new ConfigError(`malformed CAS address "${original}": ${which} port must be a number (expected host:restPort:attestationPort)`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new ConfigError(`malformed CAS address "${original}": ${which} port ${port} is outside 1-65535`);
  }
  return port;
}

export function parseCasAddress(text: string): CasAddress {
  const original = String(text ?? '').trim();
  if (original.length === 0) {
    throw new ConfigError('malformed CAS address "": expected host:restPort:attestationPort, e.g. cas.example:8081:18765');
  }
  let host: string;
  let rest: string;
  if (original.startsWith('[')) {
    const close = original.indexOf(']');
    if (close < 0 || original[close + 1] !== ':') {
      throw new ConfigError(`malformed CAS address "${original}": expected [ipv6]:restPort:attestationPort`);
    }
    host = original.slice(1, close);
    rest = original.slice(close + 2);
    if (!IPV6.test(host) || !host.includes(':')) {
      throw new ConfigError(`malformed CAS address "${original}": "${host}" is not an IPv6 address`);
    }
  } else {
    const first = original.indexOf(':');
    if (first < 0) {
      throw new ConfigError(`malformed CAS address "${original}": expected host:restPort:attestationPort, e.g. cas.example:8081:18765`);
    }
    host = original.slice(0, first);
    rest = original.slice(first + 1);
    if (!HOSTNAME.test(host)) {
      throw new ConfigError(`malformed CAS address "${original}": "${host}" is not a valid host name or IPv4 address`);
    }
  }
  const ports = rest.split(':');
  if (ports.length !== 2) {
    throw new ConfigError(`malformed CAS address "${original}": expected host:restPort:attestationPort, e.g. cas.example:8081:18765`);
  }
  const restPort = parsePort(ports[0], 'REST', original);
  const attestationPort = parsePort(ports[1], 'attestation', original);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    restPort,
    attestationPort,
    restUrl: `https://${urlHost}:${restPort}`,
    attestationAddress: `${urlHost}:${attestationPort}`,
  };
}
