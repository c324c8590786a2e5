/**
 * "Did you mean …?" hints for misspelt keys and names.
 */

/**
 * Edit distance (insertions, deletions, substitutions, and swaps of two
 * neighbouring letters, the commonest typo) between two strings.
 */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  // d[i][j]: distance between the first i letters of a and the first j of b.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate closest to `word`: within edit distance 2 (case-insensitive),
 * or one that `word` is a prefix of (`trig` → `trigger`). Null when none is close.
 */
export function closest(word: string, candidates: Iterable<string>): string | null {
  const w = word.toLowerCase();
  if (w.length === 0) return null;
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    if (c === w) return candidate;
    const d = levenshtein(w, c);
    // A distance as long as the word itself means every letter changed: no resemblance.
    let score = d <= 2 && d < Math.max(w.length, 2) ? d : Infinity;
    if (c.startsWith(w) || w.startsWith(c)) score = Math.min(score, 2.5);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/**
 * A hint suffix for an error message, like ` (did you mean "trigger"?)`, or
 * null when no candidate is close to `word`.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  const match = closest(word, candidates);
  return match === null ? null : ` (did you mean "${match}"?)`;
}
