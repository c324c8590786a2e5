import micromatch from 'micromatch';
import type { Variables } from '../core/types.js';

/** Placeholders that may span directories. */
const PATH_PLACEHOLDERS = new Set(['path', 'abspath', 'dir', 'workspace', 'job_dir']);

/**
 * An output template as a glob. A placeholder naming a pattern variable is
 * replaced by the variable's value (itself a template); any other placeholder
 * becomes a wildcard (`**` for path-like ones, `*` otherwise), since its value
 * is known only per job.
 */
export function templateToGlob(template: string, variables: Readonly<Variables> = {}, depth = 0): string {
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) => {
    if (!name) return m === '{{' ? '{' : '}';
    const v = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (typeof v === 'string' && depth < 8) return templateToGlob(v, variables, depth + 1);
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return PATH_PLACEHOLDERS.has(name) ? '**' : '*';
  });
}

type Token = { star: true } | { star: false; ch: string | null }; // ch null: any one character

function tokens(segment: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') {
      if (out.at(-1)?.star !== true) out.push({ star: true });
    } else if (c === '?') out.push({ star: false, ch: null });
    else if (c === '[') {
      // A character class matches one character; treat it as any (over-approximates).
      const end = segment.indexOf(']', i + 2);
      if (end < 0) out.push({ star: false, ch: '[' });
      else {
        out.push({ star: false, ch: null });
        i = end;
      }
    } else if (c === '\\' && i + 1 < segment.length) out.push({ star: false, ch: segment[++i] });
    else out.push({ star: false, ch: c });
  }
  return out;
}

/** Can some string match both wildcard sequences? */
function intersects<T>(a: T[], b: T[], isStar: (t: T) => boolean, compatible: (x: T, y: T) => boolean): boolean {
  const memo = new Map<number, boolean>();
  const f = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r = false;
    if (i === a.length && j === b.length) r = true;
    else if (i < a.length && isStar(a[i])) r = f(i + 1, j) || (j < b.length && f(i, j + 1));
    else if (j < b.length && isStar(b[j])) r = f(i, j + 1) || (i < a.length && f(i + 1, j));
    else if (i < a.length && j < b.length) r = compatible(a[i], b[j]) && f(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return f(0, 0);
}

function segmentsIntersect(x: string, y: string): boolean {
  return intersects(
    tokens(x),
    tokens(y),
    (t) => t.star,
    (p, q) => !p.star && !q.star && (p.ch === null || q.ch === null || p.ch === q.ch),
  );
}

function oneIntersects(a: string, b: string): boolean {
  const sa = a.split('/').filter((s) => s !== '' && s !== '.');
  const sb = b.split('/').filter((s) => s !== '' && s !== '.');
  return intersects(
    sa,
    sb,
    (s) => s === '**',
    (p, q) => segmentsIntersect(p, q),
  );
}

/**
 * Whether two globs can match a common path (glob intersection, not string
 * equality): `data/*.npy` and `data/s?.npy` do; `data/a/*` and `data/b/*` do not.
 * Braces are expanded; character classes count as any character.
 */
export function globsIntersect(a: string, b: string): boolean {
  const xs = micromatch.braces(a, { expand: true });
  const ys = micromatch.braces(b, { expand: true });
  return xs.some((x) => ys.some((y) => oneIntersects(x, y)));
}
