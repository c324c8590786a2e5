/** Shortens text to `width` columns, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

/** Truncates and pads text to exactly `width` columns. */
export function cell(text: string, width: number): string {
  return truncate(text, width).padEnd(width);
}

/** Keeps the end of a path that does not fit: `…/deep/file.txt`. */
export function truncateStart(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : `…${text.slice(text.length - width + 1)}`;
}

/** A duration as `m:ss` or `h:mm:ss`. */
export function clockDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** How long ago, briefly: `4s`, `3m`, `2h`, `5d`. */
export function ago(iso: string | null, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The first non-empty line of a message. */
export function firstLine(text: string | null): string {
  if (!text) return '';
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

/** A count with thousands separators: `100,000`. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The last `lines` lines of a text that fit (each cut to `width`). */
export function tailLines(text: string, lines: number, width: number): string[] {
  if (lines <= 0) return [];
  const all = text.replace(/\r/g, '').split('\n');
  if (all.length && all[all.length - 1] === '') all.pop();
  return all.slice(-lines).map((l) => truncate(l.replace(/\t/g, '  '), width));
}

/** A count in at most 5 columns: `9999`, `100k`, `2.5M`. */
export function compactCount(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1_000_000) return `${Math.floor(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
