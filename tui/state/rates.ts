/**
 * Counts per time bucket for the Overview's sparklines: the last `counts.length`
 * buckets of `bucketMs`, oldest first, the last one being the current one.
 */
export interface RateSeries {
  bucketMs: number;
  /** Index (time / bucketMs) of the last bucket. */
  end: number;
  counts: number[];
  /** When counting began: rates never average over time before it. */
  since: number;
}

/** An empty series of `size` buckets ending now. */
export function emptySeries(now: number, size = 30, bucketMs = 10_000): RateSeries {
  return { bucketMs, end: Math.floor(now / bucketMs), counts: new Array<number>(size).fill(0), since: now };
}

/** The series moved on so that its last bucket holds `now`. */
export function advance(s: RateSeries, now: number): RateSeries {
  const end = Math.floor(now / s.bucketMs);
  const shift = end - s.end;
  if (shift <= 0) return s;
  const size = s.counts.length;
  const counts = shift >= size ? new Array<number>(size).fill(0) : [...s.counts.slice(shift), ...new Array<number>(shift).fill(0)];
  return { ...s, end, counts };
}

/** Adds `n` to the bucket holding `at` (older than the series: dropped). */
export function addCount(s: RateSeries, at: number, n = 1): RateSeries {
  const moved = advance(s, at);
  const i = moved.counts.length - 1 - (moved.end - Math.floor(at / moved.bucketMs));
  if (i < 0 || n === 0) return moved;
  const counts = [...moved.counts];
  counts[i] += n;
  return { ...moved, counts };
}

/** Events per second over the last `windowMs` (at most since counting began). */
export function perSecond(s: RateSeries, now: number, windowMs = 60_000): number {
  const cur = advance(s, now);
  const buckets = Math.max(1, Math.min(cur.counts.length, Math.ceil(windowMs / cur.bucketMs)));
  const sum = cur.counts.slice(-buckets).reduce((a, b) => a + b, 0);
  const span = Math.min((buckets - 1) * cur.bucketMs + (now - cur.end * cur.bucketMs), now - cur.since);
  return span <= 0 ? 0 : (sum * 1000) / Math.max(span, 1000);
}

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The last `width` values as a sparkline; empty buckets are blank, the highest is a full bar. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-Math.max(0, width));
  const max = Math.max(0, ...shown);
  const line = shown.map((v) => (v <= 0 || max === 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.ceil((v / max) * BARS.length) - 1)])).join('');
  return line.padStart(width);
}
