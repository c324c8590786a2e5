/*
 * Where to measure next, from the measurements so far: a pure function of
 * the data, so every step of the loop can be replayed and explained.
 *
 * 1. Bracket: the best measurement so far and its neighbours (or the ends of
 *    the range) bracket the optimum. While that bracket is wider than
 *    `window`, measure at the golden-section point of its larger half.
 * 2. Refine: fit a parabola by least squares to the measurements within
 *    `window` of the best one. Its vertex is the estimate, with a standard
 *    error from the fit. Measure on either side of the vertex, alternately,
 *    until that standard error is below `tolerance`.
 *
 * Noise makes single measurements unreliable near the top of the curve,
 * where it is flat; the fit averages it out, and its standard error says
 * when there is enough data.
 */

/** The golden-section fraction: the larger half is split at this fraction from the best point. */
const GOLDEN = (3 - Math.sqrt(5)) / 2;

/** Refining measures on either side of the estimate, at these fractions of `window`, in turn. */
const REFINE_OFFSETS = [0.5, 0.7];

/**
 * @typedef {{x: number, y: number}} Point
 * @typedef {{low: number, high: number, window: number, tolerance: number, minFitPoints: number}} SearchOptions
 * @typedef {{phase: 'bracket' | 'refine' | 'converged', estimate: number, uncertainty: number,
 *            next: number | null, fit: {a: number, b: number, c: number, x0: number, from: number, to: number} | null}} Decision
 */

/** Solves the 3×3 system `m · v = r` (Gaussian elimination); returns v and the inverse of m, or null if singular. */
function solve3(m, r) {
  const a = m.map((row, i) => [...row, r[i], ...[0, 1, 2].map((j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let row = col + 1; row < 3; row++) if (Math.abs(a[row][col]) > Math.abs(a[pivot][col])) pivot = row;
    if (Math.abs(a[pivot][col]) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    const p = a[col][col];
    for (let j = 0; j < 7; j++) a[col][j] /= p;
    for (let row = 0; row < 3; row++) {
      if (row === col) continue;
      const k = a[row][col];
      for (let j = 0; j < 7; j++) a[row][j] -= k * a[col][j];
    }
  }
  return { v: a.map((row) => row[3]), inverse: a.map((row) => row.slice(4)) };
}

/**
 * Least-squares parabola y = a + b·u + c·u², u = x − x0, through `points`.
 * Returns its vertex and the vertex's standard error (delta method), or null
 * when the points do not determine a peak (too few, or curving upwards).
 */
export function fitPeak(points, x0) {
  const n = points.length;
  if (n < 4) return null;
  const rows = points.map((p) => [1, p.x - x0, (p.x - x0) ** 2]);
  const xtx = [0, 1, 2].map((i) => [0, 1, 2].map((j) => rows.reduce((s, r) => s + r[i] * r[j], 0)));
  const xty = [0, 1, 2].map((i) => rows.reduce((s, r, k) => s + r[i] * points[k].y, 0));
  const solved = solve3(xtx, xty);
  if (!solved) return null;
  const [a, b, c] = solved.v;
  if (!(c < 0)) return null;
  const rss = rows.reduce((s, r, k) => s + (points[k].y - (a + b * r[1] + c * r[2])) ** 2, 0);
  const s2 = rss / (n - 3);
  // vertex = x0 − b / 2c; its gradient with respect to (a, b, c):
  const g = [0, -1 / (2 * c), b / (2 * c * c)];
  let variance = 0;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) variance += g[i] * g[j] * solved.inverse[i][j] * s2;
  return { vertex: x0 - b / (2 * c), error: Math.sqrt(Math.max(variance, 0)), a, b, c };
}

/** What to do after the measurements `points` (in the order they were taken). */
export function decide(points, options) {
  const { low, high, window, tolerance, minFitPoints } = options;
  if (points.length === 0) throw new Error('decide: no measurements yet');
  const sorted = [...points].sort((p, q) => p.x - q.x);
  let best = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i].y > sorted[best].y) best = i;
  const xb = sorted[best].x;
  const left = best > 0 ? sorted[best - 1].x : low;
  const right = best < sorted.length - 1 ? sorted[best + 1].x : high;
  const clamp = (x) => Math.min(high, Math.max(low, x));

  if (right - left > window) {
    const next = right - xb > xb - left ? xb + GOLDEN * (right - xb) : xb - GOLDEN * (xb - left);
    return { phase: 'bracket', estimate: xb, uncertainty: (right - left) / 2, next: clamp(next), fit: null };
  }

  const near = sorted.filter((p) => Math.abs(p.x - xb) <= window);
  const peak = near.length >= minFitPoints ? fitPeak(near, xb) : null;
  const trusted = peak !== null && Math.abs(peak.vertex - xb) < window;
  const fit = trusted ? { a: peak.a, b: peak.b, c: peak.c, x0: xb, from: xb - window, to: xb + window } : null;
  if (trusted && peak.error < tolerance) {
    return { phase: 'converged', estimate: peak.vertex, uncertainty: peak.error, next: null, fit };
  }
  const centre = trusted ? peak.vertex : xb;
  // Alternate sides, so the fit sees both flanks of the peak, at varying distances.
  const offset = window * REFINE_OFFSETS[Math.floor(points.length / 2) % REFINE_OFFSETS.length];
  const next = points.length % 2 === 1 ? centre - offset : centre + offset;
  return { phase: 'refine', estimate: centre, uncertainty: trusted ? peak.error : (right - left) / 2, next: clamp(next), fit };
}
