import { Text } from 'ink';
import { truncate } from '../state/format.js';
import { useTheme } from '../theme.js';

/** A line of key hints: `[n] new  [e] edit  …` (keys in brackets, so they read as keys), cut to the width. */
export function KeyHints({ hints, width }: { hints: readonly (readonly [string, string])[]; width: number }) {
  const theme = useTheme();
  const parts: string[] = [];
  let used = 0;
  for (const [k, label] of hints) {
    const part = `[${k}] ${label}`;
    if (used + part.length + 2 > width) break;
    parts.push(part);
    used += part.length + 2;
  }
  return (
    <Text color={theme.color('muted')} wrap="truncate-end">
      {truncate(parts.join('  '), width)}
    </Text>
  );
}
