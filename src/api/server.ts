import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { workspacePathProblem } from '../core/workspace-path.js';
import { stateJson } from '../core/exact-json.js';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectEngine, socketPath } from '../api/client.js';
import { MeowError, errorCode, errorMessage } from '../core/errors.js';
import { JOB_STATES, type JobRecord, type JobStatus } from '../core/types.js';
import { tailFile } from '../runner/job-dir.js';
import { jobJson } from './job-json.js';
import { compileGlobs } from '../rules/matcher.js';
import { patternsJson, planJson, recipesJson } from './shapes.js';
import { patternsAfter } from '../rules/cascade.js';
import type { EngineApi } from './engine-api.js';
import { untilIdle } from './until-idle.js';
import { jobProgress } from './job-progress.js';
import type { EngineEvents } from '../core/engine-events.js';

type Handler = (req: IncomingMessage, url: URL, body: unknown, params: string[]) => Promise<unknown> | unknown;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 16 * 1024 * 1024) throw new HttpError(413, 'request body over 16 MiB');
    chunks.push(c);
  }
  if (size === 0) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

/**
 * The engine's control socket: HTTP over a Unix socket at
 * `.meow/engine.sock`, mode 0600 so only the engine's user may steer it.
 * Owns the server: call `close()`.
 */
export class ApiServer {
  private server: Server | null = null;
  private readonly streams = new Set<ServerResponse>();
  private readonly routes: { method: string; re: RegExp; handler: Handler }[] = [];
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly engine: EngineApi) {
    const e = engine;
    const job = (id: string) => {
      const j = e.findJob(id);
      if (!j) throw new HttpError(404, `no job "${id}"`);
      return j;
    };
    this.route('GET', /^\/status$/, (_r, url) => e.statusJson({ all: url.searchParams.get('all') === '1' }));
    this.route('GET', /^\/patterns$/, () => patternsJson(e.patterns, e.recipes, e.pausedPatterns));
    this.route('POST', /^\/patterns\/([^/]+)\/(pause|resume)$/, (_r, _u, _b, [name, action]) => {
      e.setPaused(name, action === 'pause');
      return patternsJson(e.patterns, e.recipes, e.pausedPatterns).find((p) => p.name === name);
    });
    this.route('GET', /^\/recipes$/, () => recipesJson(e.recipes));
    this.route('GET', /^\/jobs$/, (_r, url) => {
      const status = url.searchParams.get('status');
      if (status && !JOB_STATES.includes(status as JobStatus)) throw new HttpError(400, `status must be one of ${JOB_STATES.join(', ')}`);
      const limit = url.searchParams.get('limit');
      return e
        .listJobs({ status: (status as JobStatus) ?? undefined, pattern: url.searchParams.get('pattern') ?? undefined, input: url.searchParams.get('input') ?? undefined, limit: limit ? Number(limit) : undefined, current: url.searchParams.get('current') === '1' })
        .map(jobJson);
    });
    this.route('GET', /^\/jobs\/([^/]+)$/, (_r, _u, _b, [id]) => jobJson(job(id)));
    this.route('POST', /^\/jobs\/([^/]+)\/cancel$/, (_r, _u, _b, [id]) => {
      const j = job(id);
      const done = e.cancelJob(j.id, 'cancelled by the user');
      if (!done) throw new HttpError(409, `job ${j.id} is ${j.status}; only queued or running jobs can be cancelled`);
      return jobJson(done);
    });
    this.route('POST', /^\/jobs\/([^/]+)\/retry$/, (_r, _u, _b, [id]) => {
      const j = job(id);
      const done = e.retryJob(j.id);
      if (!done) throw new HttpError(409, `job ${j.id} is ${j.status}; only failed or cancelled jobs can be retried`);
      return jobJson(done);
    });
    this.route('POST', /^\/events$/, (_r, _u, body) => {
      const path = (body as { path?: unknown } | null)?.path;
      if (typeof path !== 'string' || path === '') throw new HttpError(400, 'expected {"path": "<workspace-relative path>"}');
      const problem = workspacePathProblem(path);
      if (problem) throw new HttpError(400, problem);
      e.observe(path);
      return { accepted: path };
    });
    this.route('GET', /^\/plan$/, async () => {
      const plan = await e.planFromDisk();
      return planJson(plan, patternsAfter(plan, e.patterns));
    });
    this.route('POST', /^\/until-idle$/, () => untilIdle(e));
    this.route('POST', /^\/definitions$/, async (_r, _u, body) => {
      const b = body as { file?: unknown; content?: unknown; dry_run?: unknown } | null;
      if (typeof b?.file !== 'string' || (b.content !== null && typeof b.content !== 'string')) {
        throw new HttpError(400, 'expected {"file": "patterns/x.yaml", "content": "<text>" | null, "dry_run": true|false}');
      }
      const r = await e.changeDefinition(b.file, b.content as string | null, b.dry_run === true);
      return { ...planJson(r.plan, patternsAfter(r.plan, e.patterns)), errors: r.errors, applied: r.applied };
    });
    this.route('GET', /^\/events\/stream$/, () => undefined);
    this.addViewRoutes(job);
  }

  /**
   * Routes the terminal UI needs: a window of jobs with its total, job counts
   * per pattern, a job's log tail and progress, the invalid definition files,
   * a definition file's text and a trigger's match preview. All are reads.
   */
  private addViewRoutes(job: (id: string) => JobRecord): void {
    const e = this.engine;
    this.route('GET', /^\/search\/jobs$/, (_r, url) => {
      const q = url.searchParams;
      const status = q.get('status');
      if (status && !JOB_STATES.includes(status as JobStatus)) throw new HttpError(400, `status must be one of ${JOB_STATES.join(', ')}`);
      const offset = intParam(q.get('offset'), 0, 0, Number.MAX_SAFE_INTEGER, 'offset');
      const found = e.searchJobs({
        status: (status as JobStatus) || null,
        pattern: q.get('pattern') || null,
        text: q.get('q') || null,
        offset,
        limit: intParam(q.get('limit'), 100, 1, 1000, 'limit'),
        current: q.get('current') === '1',
      });
      return { total: found.total, offset, jobs: found.jobs.map(jobJson) };
    });
    this.route('GET', /^\/stats\/patterns$/, (_r, url) => Object.fromEntries(e.jobCountsByPattern({ current: url.searchParams.get('current') === '1' })));
    this.route('GET', /^\/definitions\/invalid$/, () => e.definitionErrors);
    this.route('GET', /^\/progress$/, (_r, url) => {
      const ids = url.searchParams.getAll('id');
      if (ids.length > 100) throw new HttpError(400, `progress: at most 100 ids, got ${ids.length}`);
      return Promise.all(ids.map((id) => jobProgress(e.root, job(id))));
    });
    this.route('GET', /^\/jobs\/([^/]+)\/logs$/, async (_r, url, _b, [id]) => {
      const j = job(id);
      const stream = url.searchParams.get('stream') ?? 'stdout';
      if (stream !== 'stdout' && stream !== 'stderr') throw new HttpError(400, 'stream must be stdout or stderr');
      const bytes = intParam(url.searchParams.get('tail'), 8192, 0, 1024 * 1024, 'tail');
      return { id: j.id, stream, text: await tailFile(join(e.root, j.jobDir, `${stream}.log`), bytes) };
    });
    this.route('GET', /^\/definitions$/, async (_r, url) => {
      const file = url.searchParams.get('file') ?? '';
      if (!/^(patterns|recipes)\/[^/]+$/.test(file) || file.includes('..')) throw new HttpError(400, `${file || '(none)'}: definitions live directly under patterns/ or recipes/`);
      try {
        return { file, content: await readFile(join(e.root, file), 'utf8') };
      } catch {
        throw new HttpError(404, `${file}: no such definition file`);
      }
    });
    this.route('GET', /^\/match$/, (_r, url) => {
      const globs = url.searchParams.getAll('glob').filter(Boolean);
      const sample = intParam(url.searchParams.get('sample'), 5, 0, 100, 'sample');
      return matchKnownFiles(e.knownPaths(), globs, url.searchParams.getAll('ignore').filter(Boolean), sample);
    });
  }

  private route(method: string, re: RegExp, handler: Handler): void {
    this.routes.push({ method, re, handler });
  }

  /** Listens on the workspace's socket (refusing when another engine answers there). */
  async listen(): Promise<void> {
    const path = socketPath(this.engine.root);
    if (existsSync(path)) {
      if (await connectEngine(this.engine.root)) {
        throw new MeowError('MEOW_ENGINE_RUNNING', `an engine is already running in ${this.engine.root} (socket .meow/engine.sock answers); stop it first`);
      }
      unlinkSync(path); // left by an engine that crashed
    }
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    const old = process.umask(0o177); // the socket is born 0600: no window where others may connect
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
    this.unsubscribe = this.forwardEvents();
  }

  private forwardEvents(): () => void {
    const names: (keyof EngineEvents)[] = ['file:event', 'job:queued', 'job:started', 'job:finished', 'rules:changed', 'definitions:invalid', 'log'];
    const listeners = names.map((name) => {
      const fn = (...args: unknown[]) => {
        if (this.streams.size === 0) return;
        const data = name.startsWith('job:') ? jobJson(args[0] as never) : name === 'rules:changed' ? planJson(args[0] as never, patternsAfter(args[0] as never, this.engine.patterns)) : name === 'log' ? { level: args[0], message: args[1] } : args[0];
        const frame = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
        for (const s of this.streams) s.write(frame);
      };
      this.engine.on(name, fn as never);
      return [name, fn] as const;
    });
    return () => {
      for (const [name, fn] of listeners) this.engine.off(name, fn as never);
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://engine');
    if (req.method === 'GET' && url.pathname === '/events/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(': meowflow engine events\n\n');
      this.streams.add(res);
      req.on('close', () => this.streams.delete(res));
      return;
    }
    const send = (status: number, body: unknown) => {
      const text = stateJson(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const route = this.routes.find((r) => r.method === req.method && r.re.test(url.pathname));
      if (!route) {
        const known = this.routes.some((r) => r.re.test(url.pathname));
        throw new HttpError(known ? 405 : 404, `${req.method} ${url.pathname}: no such endpoint`);
      }
      const params = (route.re.exec(url.pathname) ?? []).slice(1).map(decodeURIComponent);
      const body = req.method === 'GET' ? null : await readBody(req);
      send(200, await route.handler(req, url, body, params));
    } catch (err) {
      const code = errorCode(err);
      const status = err instanceof HttpError ? err.status : code === 'MEOW_USAGE' ? 400 : code === 'MEOW_CONFLICT' ? 409 : code === 'MEOW_NOT_FOUND' ? 404 : 500;
      // Every error names a code: a request the server refuses is a usage error, a route it lacks a not-found.
      const fallback = status === 404 ? 'MEOW_NOT_FOUND' : status === 409 ? 'MEOW_CONFLICT' : status < 500 ? 'MEOW_USAGE' : 'MEOW_INTERNAL';
      send(status, { error: errorMessage(err), code: code ?? fallback });
    }
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    for (const s of this.streams) s.end();
    this.streams.clear();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

/** An integer query parameter within bounds, or the default when absent. */
function intParam(value: string | null, fallback: number, min: number, max: number, name: string): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** How many known files the globs (minus ignores) match, with the first few in path order. */
function matchKnownFiles(paths: Iterable<string>, globs: string[], ignore: string[], sample: number) {
  const include = compileGlobs(globs);
  const exclude = compileGlobs(ignore);
  const matched: string[] = [];
  for (const p of paths) if (include(p) && !exclude(p)) matched.push(p);
  matched.sort();
  return { count: matched.length, sample: matched.slice(0, sample) };
}
