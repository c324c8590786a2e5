import { ExactNumber } from './exact-number.js';

/** Duration units and their milliseconds. */
export const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration: a number of seconds, or a string like `250ms`, `1.5s`,
 * `30m`, `2h`, `1d`. Returns milliseconds, or an error message saying what is allowed.
 */
export function parseDuration(value: unknown): number | string {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
    return `expected a non-negative duration, got ${value}`;
  }
  if (typeof value !== 'string') return `expected a duration like "250ms", "30s", "30m" or a number of seconds, got ${describe(value)}`;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$/.exec(value);
  if (!m) return `expected a duration like "250ms", "30s", "30m", "2h" or a number of seconds, got "${value}"`;
  const unit = m[2] ?? 's';
  return Math.round(Number(m[1]) * (DURATION_UNITS[unit] ?? 1000));
}

/** Size units (any case) and their bytes. */
export const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** Parses a size like `2GiB`, `512MB` or a number of bytes. Returns bytes or an error message. */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  if (typeof value !== 'string') return `expected a size like "2GiB", "512MB" or a number of bytes, got ${describe(value)}${value instanceof ExactNumber ? ' (more bytes than can be counted exactly; use a unit)' : ''}`;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m) return `expected a size like "2GiB", "512MB" or a number of bytes, got "${value}"`;
  if (factor === undefined) return `expected a size like "2GiB", "512MB" or a number of bytes, got "${value}" (the units are B, kB, KiB, MB, MiB, GB, GiB, TB and TiB)`;
  return Math.round(Number(m[1]) * factor);
}

/** Formats milliseconds for people: 850ms, 12.3s, 4m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

/** A short description of a YAML value's type, for error messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof ExactNumber) return `the number ${value.text}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string "${value}"`;
  return `${typeof value === 'number' ? 'the number' : 'the boolean'} ${String(value)}`;
}

/** Formats bytes for people, in binary units: 512 B, 1 MiB, 50.0 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 || Number.isInteger(v) ? `${v} ${units[i]}` : `${v.toFixed(1)} ${units[i]}`;
}
