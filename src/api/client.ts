import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MeowError } from '../core/errors.js';

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
              resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : null) as T });
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
    if (r.status >= 400) throw new MeowError('MEOW_NOT_FOUND', r.body?.error ?? `GET ${path}: HTTP ${r.status}`);
    return r.body;
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
