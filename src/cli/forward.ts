/**
 * `meow forward DIR --to WORKSPACE`: forwards settled files from an
 * instrument host into an engine's workspace and announces them on the bus
 * (docs/remote.md). `--status` prints the outbox's state instead.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { MeowError } from '../core/errors.js';
import { parseDuration } from '../core/durations.js';
import { Forwarder } from '../forward/forwarder.js';
import { Outbox, type OutboxStatus } from '../forward/outbox.js';
import { createTransfer, parseDestination } from '../forward/transfer.js';
import { printJson } from './format.js';
import type { BusAddress } from '../sources/source-types.js';

/** The flags of `meow forward`. */
export interface ForwardFlags {
  to?: string;
  as?: string;
  status?: boolean;
  json?: boolean;
  state?: string;
  server?: string[];
  stream?: string;
  subject?: string;
  user?: string;
  passwordEnv?: string;
  passwordFile?: string;
  nkeySeedFile?: string;
  credsFile?: string;
  tlsCa?: string;
  host?: string;
  settle?: string;
  ignore?: string[];
  sha256?: boolean;
  poll?: boolean;
  sshPort?: string;
  identity?: string;
  sshOption?: string[];
}

/** The default outbox of a watched directory: under the user's state directory, named after the directory. */
export function defaultStatePath(dir: string): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'meowflow', `forward-${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 16)}.db`);
}

function busAddress(o: ForwardFlags): BusAddress {
  const servers = o.server && o.server.length > 0 ? o.server : ['nats://127.0.0.1:4222'];
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/@]+(:\d+)?\/?$/.test(s)) throw new MeowError('MEOW_USAGE', `--server ${s}: expected a URL like nats://bus:4222 without credentials (use --user with --password-env or --password-file)`);
  }
  if ((o.passwordEnv || o.passwordFile) && !o.user) throw new MeowError('MEOW_USAGE', '--password-env/--password-file need --user');
  return {
    servers,
    stream: o.stream ?? 'MEOW',
    subject: o.subject ?? 'meow.files',
    user: o.user ?? null,
    passwordEnv: o.passwordEnv ?? null,
    passwordFile: o.passwordFile ?? null,
    nkeySeedFile: o.nkeySeedFile ?? null,
    credsFile: o.credsFile ?? null,
    tlsCa: o.tlsCa ?? null,
  };
}

function printStatus(dir: string, state: string, s: OutboxStatus, json: boolean): void {
  if (json) {
    printJson({ dir, state, running: s.pid !== null, ...s });
    return;
  }
  console.log(`forwarder  ${s.pid !== null ? `running (pid ${s.pid})` : 'stopped'}`);
  console.log(`watching   ${dir}`);
  console.log(`outbox     ${state}`);
  console.log(`backlog    ${s.backlog} file(s) not yet acknowledged by the bus${s.transferred ? ` (${s.transferred} already transferred)` : ''}`);
  console.log(`oldest     ${s.oldest_pending ?? '-'}`);
  console.log(`sent       ${s.sent} event(s), last at ${s.last_sent_at ?? '-'}`);
  if (s.last_error) console.log(`last error ${s.last_error}`);
}

/** `meow forward`. */
export async function forwardCommand(dirArg: string, o: ForwardFlags): Promise<number> {
  const dir = resolve(dirArg);
  const state = o.state ? resolve(o.state) : defaultStatePath(dir);
  if (o.status) {
    if (!existsSync(state)) throw new MeowError('MEOW_NOT_FOUND', `no outbox at ${state}: \`meow forward ${dirArg} --to ...\` has never run for this directory (or give --state)`);
    const outbox = new Outbox(state, { readonly: true });
    try {
      printStatus(dir, state, outbox.status(), o.json ?? false);
    } finally {
      outbox.close();
    }
    return 0;
  }
  if (!o.to) throw new MeowError('MEOW_USAGE', 'meow forward DIR --to WORKSPACE: say where the engine\'s workspace is (a path, or [user@]host:/path)');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MeowError('MEOW_USAGE', `${dirArg}: not a directory; give the directory the instrument writes to`);
  const settle = parseDuration(o.settle ?? '250ms');
  if (typeof settle === 'string') throw new MeowError('MEOW_USAGE', `--settle: ${settle}`);
  const as = (o.as ?? '').replace(/^\/+|\/+$/g, '');
  if (as.split('/').includes('..')) throw new MeowError('MEOW_USAGE', `--as ${o.as}: a subdirectory of the workspace, without ".."`);
  const sshPort = o.sshPort === undefined ? undefined : Number.parseInt(o.sshPort, 10);
  const transfer = createTransfer(dir, parseDestination(o.to), as, { sshPort, identity: o.identity, sshArgs: (o.sshOption ?? []).flatMap((opt) => ['-o', opt]) });
  const log = (level: string, message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${level}: ${message}\n`);
  const outboxIsInside = !state.startsWith(`${dir}/`) ? [] : [state.slice(dir.length + 1).replace(/[^/]+$/, '') + '**'];
  const fwd = new Forwarder({
    dir,
    state,
    transfer,
    bus: busAddress(o),
    host: o.host ?? hostname(),
    settleMs: settle,
    ignore: [...(o.ignore ?? []), ...outboxIsInside],
    sha256: o.sha256 ?? false,
    poll: o.poll ?? false,
    log,
  });
  const running = fwd.outbox.status().pid;
  if (running !== null && running !== process.pid) {
    fwd.outbox.close();
    throw new MeowError('MEOW_CONFLICT', `a forwarder (pid ${running}) already runs with the outbox ${state}`);
  }
  await fwd.start();
  log('info', `forwarding ${dir} → ${o.to} (${transfer.mode}); outbox ${state}`);
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log('info', 'stopping; unsent events stay in the outbox');
  await fwd.close();
  return 0;
}
