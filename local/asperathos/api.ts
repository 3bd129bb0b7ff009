/** The manager's HTTP API over a JobRunner: routes, body parsing and error shapes (protocols.md §5). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '#lib/log.js';
import type { JobRunner } from './jobs.js';
import type { JobRecord } from './state.js';

const ERROR_NAMES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  500: 'INTERNAL_SERVER_ERROR',
};
const KNOWN_PLUGINS = {
  plugin: new Set(['kubejobs']),
  control_plugin: new Set(['kubejobs']),
  monitor_plugin: new Set(['kubejobs', 'kubejobs_cost']),
  visualizer_plugin: new Set(['k8s-grafana']),
};
/** What the manager's error handler says for every unhandled exception. */
const INTERNAL = 'Internal Server Error';
const DELETE_UNKNOWN = 'Specified submission does not exists in this Asperathos instance!';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** What the emulator logs; the answer says only `message`. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

const internal = (detail: string) => new ApiError(500, INTERNAL, detail);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (status === 204) {
    res.writeHead(204);
    res.end();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error_code: status, error_message: message, error_name: ERROR_NAMES[status] ?? 'ERROR' });
}

function readJson(req: IncomingMessage, required: boolean): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase();
      if (type !== '' && type !== 'application/json') return reject(internal(`unsupported Content-Type: ${type}`));
      if (text.trim() === '') return required ? reject(internal('empty request body')) : resolve(null);
      try {
        const json = JSON.parse(text) as unknown;
        if (!isObject(json)) return reject(internal('the request body is not a JSON object'));
        resolve(json);
      } catch {
        reject(internal('invalid JSON in the request body'));
      }
    });
  });
}

export interface ApiSettings {
  /** Accepted API credentials when a request has enable_auth: true; default any. */
  users?: Record<string, string>;
  log: Logger;
}

export function createManagerApi(runner: JobRunner, settings: ApiSettings): Server {
  /** `missing` answers when the body has no enable_auth: 500 on submit, 400 with an empty message on stop. */
  const checkAuth = (body: Record<string, unknown>, missing: ApiError) => {
    if (!('enable_auth' in body)) throw missing;
    if (body.enable_auth !== true) return;
    if (typeof body.username !== 'string' || typeof body.password !== 'string' || !body.username || !body.password) {
      throw new ApiError(400, 'Missing plugin fields in request');
    }
    if (settings.users && settings.users[body.username] !== body.password) throw new ApiError(401, 'Unauthorized');
  };

  const submit = (body: Record<string, unknown>): string => {
    checkAuth(body, internal('missing field: enable_auth'));
    if (!isObject(body.plugin_info)) throw internal('missing or malformed field: plugin_info');
    const info = body.plugin_info;
    const named: Array<[keyof typeof KNOWN_PLUGINS, unknown]> = [
      ['plugin', body.plugin],
      ['control_plugin', info.control_plugin],
      ['monitor_plugin', info.monitor_plugin],
      ['visualizer_plugin', info.visualizer_plugin],
    ];
    for (const [field, value] of named) {
      if (typeof value !== 'string' || !KNOWN_PLUGINS[field].has(value)) throw internal(`missing or unknown ${field}`);
    }
    return runner.submit(info);
  };

  const jobOr400 = (id: string, message = ''): JobRecord => {
    const job = runner.get(id);
    if (!job) throw new ApiError(400, message);
    return job;
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://emulator.invalid').pathname.replace(/\/+$/, '').replace(/\.json$/, '');
    if (path === '/healthz') {
      if (method !== 'GET') throw new ApiError(405, 'Method not allowed');
      return sendJson(res, 200, 'OK');
    }
    if (path === '/submissions') {
      if (method === 'GET') {
        const all: Record<string, unknown> = {};
        for (const job of runner.book.jobs.values()) all[job.id] = runner.statusJson(job);
        return sendJson(res, 200, all);
      }
      if (method === 'POST') return sendJson(res, 202, { job_id: submit((await readJson(req, true))!) });
      throw new ApiError(405, 'Method not allowed');
    }
    const m = /^\/submissions\/([^/]+)(?:\/(stop|terminate|errors|report|visualizer|log))?$/.exec(path);
    if (!m) throw new ApiError(404, 'Not found');
    const id = decodeURIComponent(m[1]);
    const action = m[2];
    if (action === undefined && method === 'GET') return sendJson(res, 200, runner.statusJson(jobOr400(id)));
    if (action === undefined && method === 'DELETE') {
      const body = await readJson(req, false);
      if (body) checkAuth(body, new ApiError(400, ''));
      await runner.remove(jobOr400(id, DELETE_UNKNOWN));
      return sendJson(res, 204, null);
    }
    if ((action === 'stop' || action === 'terminate') && method === 'PUT') {
      const body = await readJson(req, true);
      checkAuth(body!, new ApiError(400, ''));
      const job = jobOr400(id);
      await (action === 'stop' ? runner.stop(job) : runner.terminate(job));
      return sendJson(res, 204, null);
    }
    if (action === 'errors' && method === 'GET') {
      const job = runner.get(id);
      if (!job) return sendJson(res, 200, {});
      const answer = await runner.errorsAnswer(job);
      if (answer.status === 500) throw internal('the job has no Redis client');
      return sendJson(res, 200, answer.body);
    }
    if (action === 'report' && method === 'GET') {
      jobOr400(id);
      return sendJson(res, 200, {});
    }
    if (action === 'visualizer' && method === 'GET')
      return sendJson(res, 200, { visualizer_url: runner.statusJson(jobOr400(id)).visualizer_url });
    if (action === 'log' && method === 'GET') {
      jobOr400(id);
      throw internal('the job log is not readable');
    }
    throw new ApiError(405, 'Method not allowed');
  };

  return createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof ApiError) {
        if (error.detail) settings.log.info('request refused', { status: error.status, detail: error.detail });
        return sendError(res, error.status, error.message);
      }
      settings.log.error('asperathos emulator failure', { error_message: error instanceof Error ? error.message : String(error) });
      sendError(res, 500, INTERNAL);
    });
  });
}
