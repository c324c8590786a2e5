import { request } from 'node:http';
import { parseExact } from '../core/exact-json.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, MeowError } from '../core/errors.js';

/** The engine's control socket in a workspace. */
export function socketPath(root: string): string {
  return join(root, '.meow', 'engine.sock');
}

/** A response from the engine. */
export interface ApiResponse<T> {
  status: number;
  body: T;
}

/**
 * A client of the engine's control socket (HTTP over a Unix socket). The CLI
 * and the TUI talk to a running engine only through this.
 */
export class EngineClient {
  constructor(readonly socket: string) {}

  /** Sends one request; resolves with the status and parsed JSON body. */
  call<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiResponse<T>> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          socketPath: this.socket,
          path,
          method,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: (text ? parseExact(text) : null) as T });
            } catch (err) {
              reject(new MeowError('MEOW_ENGINE_UNREACHABLE', `the engine answered ${method} ${path} with invalid JSON`, { cause: err }));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new MeowError('MEOW_ENGINE_UNREACHABLE', `cannot reach the engine at ${this.socket}: ${err.message}`, { cause: err })));
      req.end(payload);
    });
  }

  async get<T>(path: string): Promise<T> {
    const r = await this.call<T & { error?: string }>('GET', path);
    if (r.status >= 400) throw httpError(r.status, r.body, `GET ${path}`);
    return r.body;
  }

  /** POSTs a JSON body; resolves with the answer, rejects with the engine's message on an HTTP error. */
  async post<T>(path: string, body: unknown = null, timeoutMs = 60_000): Promise<T> {
    const r = await this.call<T & { error?: string; code?: string | null }>('POST', path, body, timeoutMs);
    if (r.status >= 400) throw httpError(r.status, r.body, `POST ${path}`);
    return r.body;
  }

  /**
   * Follows the engine's event stream (`GET /events/stream`, server-sent
   * events): `onEvent` gets each event's name and parsed data; `onEnd` runs
   * once when the stream ends or cannot be opened. Returns a function that
   * stops following.
   */
  stream(onEvent: (name: string, data: unknown) => void, onEnd: (err: Error | null) => void = () => {}): () => void {
    let ended = false;
    const end = (err: Error | null) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const req = request({ socketPath: this.socket, path: '/events/stream', method: 'GET' }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = parseFrame(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (frame) onEvent(frame.name, frame.data);
        }
      });
      res.on('end', () => end(null));
      res.on('error', (err) => end(err));
    });
    req.on('error', (err) => end(new MeowError('MEOW_ENGINE_UNREACHABLE', `cannot reach the engine at ${this.socket}: ${err.message}`, { cause: err })));
    req.end();
    return () => {
      ended = true;
      req.destroy();
    };
  }
}

/** One server-sent-events frame: `event: NAME` and `data: JSON` lines; comments are skipped. */
function parseFrame(text: string): { name: string; data: unknown } | null {
  let name = 'message';
  const data: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length === 0) return null;
  try {
    return { name, data: JSON.parse(data.join('\n')) };
  } catch {
    return null;
  }
}

/** A client connected to the workspace's running engine, or null when none answers. */
export async function connectEngine(root: string): Promise<EngineClient | null> {
  const path = socketPath(root);
  if (!existsSync(path)) return null;
  const client = new EngineClient(path);
  try {
    await client.call('GET', '/status', undefined, 2000);
    return client;
  } catch {
    return null;
  }
}

/** The engine's answer to a failed request as a MeowError with the engine's code (or one from the HTTP status). */
function httpError(status: number, body: { error?: string; code?: string | null } | null, request: string): MeowError {
  const code = ERROR_CODES.find((c) => c === body?.code) ?? (status === 404 ? 'MEOW_NOT_FOUND' : status === 409 ? 'MEOW_CONFLICT' : 'MEOW_USAGE');
  return new MeowError(code, body?.error ?? `${request}: HTTP ${status}`);
}
