import { Box, Text } from 'ink';
import { truncate } from '../state/format.js';
import { useTheme } from '../theme.js';
import type { DefinitionError } from '../api/shapes.js';

/** `patterns/x.yaml: trigger.paths: expected a glob …` — one invalid definition file in one line. */
export function describeInvalid(e: DefinitionError): string {
  return `${e.file}: ${e.key ? `${e.key}: ` : ''}${e.message.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * The definition files the engine left out because they are invalid, with
 * their messages (file, key, fix), at most `rows` lines: each takes
 * `linesEach` lines (its message wrapped), the rest are counted.
 */
export function InvalidDefinitions({ errors, width, rows, linesEach = 1 }: { errors: readonly DefinitionError[]; width: number; rows: number; linesEach?: number }) {
  const theme = useTheme();
  if (errors.length === 0 || rows <= 0) return null;
  const lines: string[] = [];
  const w = Math.max(10, width - 4);
  let shown = 0;
  for (const e of errors) {
    const text = describeInvalid(e);
    const parts: string[] = [];
    for (let at = 0; at < text.length && parts.length < linesEach; at += w) parts.push(text.slice(at, at + w));
    if (parts.length * linesEach > 0 && text.length > w * linesEach) parts[parts.length - 1] = truncate(text.slice(w * (linesEach - 1)), w);
    const room = rows - lines.length - (shown + 1 < errors.length ? 1 : 0);
    if (parts.length > room) break;
    lines.push(`✗ ${parts[0]}`, ...parts.slice(1).map((p) => `  ${p}`));
    shown++;
  }
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Text key={i} color={theme.color('error')} wrap="truncate-end">
          {`  ${l}`}
        </Text>
      ))}
      {shown < errors.length ? <Text color={theme.color('muted')}>{`  … and ${errors.length - shown} more`}</Text> : null}
    </Box>
  );
}
