/**
 * Parses the `sources:` section of meow.yaml into typed SourceConfig values,
 * reporting bad keys like the rest of the config (file, key, fix).
 */
import { type Fields, joinKey, type Mapping } from '../core/definition-fields.js';
import { describe } from '../core/durations.js';
import type { SourceConfig } from './source-types.js';

export const SOURCE_KEYS = ['type', 'servers', 'stream', 'subject', 'durable', 'paths', 'wait', 'user', 'password_env', 'password_file', 'nkey_seed_file', 'creds_file', 'tls_ca'] as const;

/** Stream and durable names: NATS forbids spaces, dots, `*`, `>` and path separators in them. */
const BUS_NAME_RE = /^[A-Za-z0-9_-]+$/;
/** A subject prefix: dot-separated tokens, no wildcards. */
const SUBJECT_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Parses `sources:`; invalid sources are reported in `f` and left out. */
export function parseSources(f: Fields, value: unknown): SourceConfig[] {
  if (value === null || value === undefined) return [];
  const m = f.mapping('sources', value, 'a mapping of source names to {type: nats, servers: [...], ...}');
  if (!m) return [];
  const sources: SourceConfig[] = [];
  for (const [name, spec] of Object.entries(m)) {
    const s = parseSource(f, name, spec);
    if (s) sources.push(s);
  }
  return sources;
}

function parseSource(f: Fields, name: string, value: unknown): SourceConfig | undefined {
  const key = joinKey('sources', name);
  if (f.name(key, name, 'source') === undefined) return undefined;
  const m = f.mapping(key, value, '{type: nats, servers: ["nats://host:4222"], ...}');
  if (!m) return undefined;
  const before = f.errors.length;
  // A password written here gets its own message (below), not "unknown key".
  const { password: _password, ...rest } = m;
  f.checkKeys(key, rest, SOURCE_KEYS, 'a source');
  if (m.type !== 'nats') f.error(joinKey(key, 'type'), `expected "nats" (the only kind of source), got ${describe(m.type)}`);
  const k = (s: string) => joinKey(key, s);
  const opt = <T>(s: string, parse: (v: unknown) => T | undefined, fallback: T): T => (m[s] === undefined || m[s] === null ? fallback : (parse(m[s]) ?? fallback));
  const file = (s: string) => opt<string | null>(s, (v) => f.string(k(s), v, 'the path of a file (a string)'), null);
  const source: SourceConfig = {
    name,
    type: 'nats',
    servers: serverList(f, k('servers'), m.servers) ?? [],
    stream: opt('stream', (v) => busName(f, k('stream'), v), 'MEOW'),
    subject: opt('subject', (v) => subjectPrefix(f, k('subject'), v), 'meow.files'),
    durable: opt('durable', (v) => busName(f, k('durable'), v), 'meow-engine'),
    paths: opt('paths', (v) => f.globs(k('paths'), v, { nonEmpty: true }), ['**']),
    waitMs: opt('wait', (v) => f.duration(k('wait'), v), 600_000),
    user: opt<string | null>('user', (v) => f.string(k('user'), v, 'a user name'), null),
    passwordEnv: opt<string | null>('password_env', (v) => envName(f, k('password_env'), v), null),
    passwordFile: file('password_file'),
    nkeySeedFile: file('nkey_seed_file'),
    credsFile: file('creds_file'),
    tlsCa: file('tls_ca'),
  };
  checkCredentials(f, key, m, source);
  return f.errors.length === before ? source : undefined;
}

function serverList(f: Fields, key: string, value: unknown): string[] | undefined {
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : null;
  if (items === null || items.length === 0) return f.error(key, `expected a server URL or a list of them like ["nats://bus:4222"], got ${describe(value)}`);
  const ok = items.every((s) => typeof s === 'string' && /^(nats|tls):\/\/[^\s/@]+(:\d+)?\/?$/.test(s));
  // Credentials in a URL would end up wherever the URL is shown.
  if (!ok) return f.error(key, `expected URLs like "nats://bus:4222" or "tls://bus:4222" without credentials in them (use user and password_env), got ${describe(value)}`);
  return items as string[];
}

function busName(f: Fields, key: string, value: unknown): string | undefined {
  const s = f.string(key, value, 'a name');
  if (s === undefined) return undefined;
  return BUS_NAME_RE.test(s) ? s : f.error(key, `"${s}": use only letters, digits, "_" and "-"`);
}

function subjectPrefix(f: Fields, key: string, value: unknown): string | undefined {
  const s = f.string(key, value, 'a subject prefix like "meow.files"');
  if (s === undefined) return undefined;
  return SUBJECT_RE.test(s) ? s : f.error(key, `"${s}": expected dot-separated tokens of letters, digits, "_" and "-", without wildcards, like "meow.files"`);
}

function envName(f: Fields, key: string, value: unknown): string | undefined {
  const s = f.string(key, value, 'the name of an environment variable');
  if (s === undefined) return undefined;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : f.error(key, `"${s}" is not an environment variable name; write the variable's name (e.g. MEOW_NATS_PASSWORD), never the password itself`);
}

/** One way to authenticate at most; a password needs a user; no password in meow.yaml itself. */
function checkCredentials(f: Fields, key: string, m: Mapping, s: SourceConfig): void {
  if ('password' in m) f.error(joinKey(key, 'password'), 'passwords are not written in meow.yaml; put it in an environment variable (password_env) or a file (password_file)');
  const password = s.passwordEnv !== null || s.passwordFile !== null;
  if (s.passwordEnv !== null && s.passwordFile !== null) f.error(joinKey(key, 'password_file'), 'give password_env or password_file, not both');
  if (password && s.user === null) f.error(joinKey(key, 'user'), 'missing: a password needs the user it belongs to');
  const ways = [s.user !== null, s.nkeySeedFile !== null, s.credsFile !== null].filter(Boolean).length;
  if (ways > 1) f.error(key, 'give one way to authenticate: user with password_env/password_file, nkey_seed_file, or creds_file');
}
