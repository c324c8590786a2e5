/**
 * Checks a remote file event before anything acts on it: a well-formed
 * message, a path that stays inside the workspace, inside what the engine
 * watches, and inside the globs the source may write. Pure: values in,
 * a verdict out.
 */
import micromatch from 'micromatch';
import type { WatchScope } from '../rules/scope.js';
import type { RemoteFileEvent } from './source-types.js';

/** An accepted event, or the reason it is refused. */
export type Verdict = { ok: true; event: RemoteFileEvent } | { ok: false; reason: string };

/** The longest path an event may name (Linux's PATH_MAX). */
const MAX_PATH = 4096;
/** How much of a refused value a log line shows: a sender cannot flood the engine's log. */
const SHOWN = 200;

/** A value as JSON for a log line, cut after {@link SHOWN} characters (saying how long it was). */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length <= SHOWN ? text : `${text.slice(0, SHOWN)}… (${text.length} characters)`;
}

/** Parses and checks one message body. */
export function checkEvent(body: string, allowed: readonly string[], scope: WatchScope): Verdict {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the message is not JSON' };
  }
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: 'the message is not a JSON object' };
  const m = raw as Record<string, unknown>;
  if (m.v !== 1) return { ok: false, reason: `unknown message version ${shown(m.v)} (this engine reads version 1)` };
  const host = typeof m.host === 'string' && /^[A-Za-z0-9_.:-]{1,253}$/.test(m.host) ? m.host : null;
  if (host === null) return { ok: false, reason: 'the message names no valid host' };
  if (typeof m.path !== 'string') return { ok: false, reason: 'the message names no path' };
  if (m.path.length > MAX_PATH) return { ok: false, reason: `path ${shown(m.path)} is longer than ${MAX_PATH} characters` };
  const why = pathProblem(m.path);
  if (why) return { ok: false, reason: `path ${shown(m.path)} ${why}` };
  if (!micromatch.isMatch(m.path, allowed as string[], { dot: true })) return { ok: false, reason: `path ${shown(m.path)} is outside the globs this source may write (${allowed.join(', ')})` };
  if (!scope.includes(m.path)) return { ok: false, reason: `path ${shown(m.path)} is not watched by this workspace (watch/ignore in meow.yaml, or engine state)` };
  if (typeof m.size !== 'number' || !Number.isSafeInteger(m.size) || m.size < 0) return { ok: false, reason: 'the message has no valid size' };
  if (typeof m.mtime_ns !== 'string' || !/^\d{1,25}$/.test(m.mtime_ns)) return { ok: false, reason: 'the message has no valid mtime_ns' };
  const sha = m.sha256 ?? null;
  if (sha !== null && (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha))) return { ok: false, reason: 'the message has an invalid sha256' };
  return { ok: true, event: { v: 1, path: m.path, size: m.size, mtime_ns: m.mtime_ns, sha256: sha, host } };
}

/** Why a path may not name a file of the workspace, or null when it may. */
export function pathProblem(path: string): string | null {
  if (path === '' || path.length > 4096) return 'is empty or too long';
  if (path.includes('\0')) return 'holds a NUL byte';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute: events name paths relative to the workspace';
  const parts = path.split('/');
  if (parts.some((p) => p === '..')) return 'is outside the workspace ("..")';
  if (parts.some((p) => p === '' || p === '.')) return 'is not a normalised relative path';
  if (path.includes('\\')) return 'holds a backslash';
  return null;
}
