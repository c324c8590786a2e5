/*
 * The convergence plot of the steering loop, as a self-contained SVG (no
 * dependencies): on the left every measurement and the final parabola fit,
 * on the right the estimate after each measurement with its uncertainty.
 */

const W = 420;
const H = 320;
const M = { left: 58, right: 16, top: 34, bottom: 44 };
const INK = '#222';
const ACCENT = '#c0392b';
const SOFT = '#2c7fb8';

/** Up to about `count` round tick values covering [min, max]. */
function ticks(min, max, count = 5) {
  const span = max - min || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One panel: axes, ticks and labels; returns the SVG group and the data → pixel scales. */
function panel(x0, title, xLabel, yLabel, [xmin, xmax], [ymin, ymax], body) {
  const w = W - M.left - M.right;
  const h = H - M.top - M.bottom;
  const sx = (v) => M.left + ((v - xmin) / (xmax - xmin || 1)) * w;
  const sy = (v) => M.top + h - ((v - ymin) / (ymax - ymin || 1)) * h;
  const parts = [`<g transform="translate(${x0},0)">`, `<rect x="${M.left}" y="${M.top}" width="${w}" height="${h}" fill="#fafafa" stroke="${INK}" stroke-width="1"/>`];
  for (const t of ticks(xmin, xmax)) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" y1="${M.top + h}" x2="${sx(t).toFixed(1)}" y2="${M.top + h + 5}" stroke="${INK}"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${M.top + h + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(ymin, ymax)) {
    parts.push(`<line x1="${M.left - 5}" y1="${sy(t).toFixed(1)}" x2="${M.left}" y2="${sy(t).toFixed(1)}" stroke="${INK}"/>`);
    parts.push(`<text x="${M.left - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${M.left + w / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${M.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  parts.push(`<text x="${M.left}" y="${M.top - 12}" font-weight="bold">${esc(title)}</text>`);
  parts.push(...body(sx, sy), '</g>');
  return parts.join('\n');
}

/**
 * @param {{parameter: string, low: number, high: number,
 *          points: {x: number, y: number}[],
 *          history: {estimate: number, uncertainty: number, phase: string}[],
 *          fit: {a: number, b: number, c: number, x0: number, from: number, to: number} | null}} data
 * @returns {string} the SVG document
 */
export function convergencePlot({ parameter, low, high, points, history, fit }) {
  const ys = points.map((p) => p.y);
  const yTop = Math.max(...ys) * 1.08;
  const final = history[history.length - 1];

  const left = panel(0, 'measurements', parameter, 'intensity', [low, high], [0, yTop], (sx, sy) => {
    const out = [];
    if (fit) {
      const d = [];
      for (let i = 0; i <= 60; i++) {
        const x = fit.from + ((fit.to - fit.from) * i) / 60;
        const u = x - fit.x0;
        d.push(`${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(Math.max(0, fit.a + fit.b * u + fit.c * u * u)).toFixed(1)}`);
      }
      out.push(`<path d="${d.join('')}" fill="none" stroke="${SOFT}" stroke-width="1.5"><title>parabola fit</title></path>`);
    }
    out.push(`<line x1="${sx(final.estimate).toFixed(1)}" y1="${sy(0).toFixed(1)}" x2="${sx(final.estimate).toFixed(1)}" y2="${sy(yTop).toFixed(1)}" stroke="${ACCENT}" stroke-dasharray="4 3"/>`);
    points.forEach((p, i) => {
      const shade = Math.round(200 - (160 * (i + 1)) / points.length);
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="rgb(${shade},${shade},${shade})" stroke="${INK}" stroke-width="0.5"><title>#${i}: ${parameter} ${fmt(p.x)}, intensity ${fmt(p.y)}</title></circle>`);
    });
    return out;
  });

  const n = history.length;
  const lo = Math.min(...history.map((h) => h.estimate - h.uncertainty), final.estimate);
  const hi = Math.max(...history.map((h) => h.estimate + h.uncertainty), final.estimate);
  const right = panel(W, 'estimate after each measurement', 'measurement', `best ${parameter}`, [-0.5, Math.max(n - 0.5, 1)], [Math.max(low, lo), Math.min(high, hi)], (sx, sy) => {
    const out = [`<line x1="${sx(-0.5).toFixed(1)}" y1="${sy(final.estimate).toFixed(1)}" x2="${sx(Math.max(n - 0.5, 1)).toFixed(1)}" y2="${sy(final.estimate).toFixed(1)}" stroke="${ACCENT}" stroke-dasharray="4 3"/>`];
    history.forEach((h, i) => {
      const top = Math.min(high, h.estimate + h.uncertainty);
      const bottom = Math.max(low, h.estimate - h.uncertainty);
      out.push(`<line x1="${sx(i).toFixed(1)}" y1="${sy(top).toFixed(1)}" x2="${sx(i).toFixed(1)}" y2="${sy(bottom).toFixed(1)}" stroke="${SOFT}" stroke-width="2"/>`);
      const fill = h.phase === 'bracket' ? '#fff' : SOFT;
      out.push(`<circle cx="${sx(i).toFixed(1)}" cy="${sy(h.estimate).toFixed(1)}" r="3.5" fill="${fill}" stroke="${SOFT}" stroke-width="1.5"><title>after #${i} (${h.phase}): ${fmt(h.estimate)} ± ${fmt(h.uncertainty)}</title></circle>`);
    });
    return out;
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" viewBox="0 0 ${2 * W} ${H}" font-family="sans-serif" font-size="11" fill="${INK}">`,
    `<title>steering loop: ${parameter} ${fmt(final.estimate)} ± ${fmt(final.uncertainty)} after ${n} measurements</title>`,
    `<rect width="${2 * W}" height="${H}" fill="#fff"/>`,
    left,
    right,
    '</svg>',
    '',
  ].join('\n');
}
