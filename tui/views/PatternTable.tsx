import { Box, Text } from 'ink';
import { JOB_STATES, type JobCounts, type PatternJson } from '../api/shapes.js';
import { cell, compactCount, truncate } from '../state/format.js';
import { stateTone, useTheme } from '../theme.js';
import type { ListCursor } from '../state/list-window.js';

const HEAD: Record<(typeof JOB_STATES)[number], string> = { queued: 'QUEUE', running: 'RUN', succeeded: 'OK', failed: 'FAIL', cancelled: 'CANC' };

/** Patterns with their state, recipe, trigger and jobs by state; the selected one marked. */
export function PatternTable(props: { patterns: readonly PatternJson[]; stats: Record<string, JobCounts>; cursor: ListCursor; width: number; height: number }) {
  const { patterns, stats, cursor, width, height } = props;
  const theme = useTheme();
  const nameW = Math.max(8, Math.floor((width - 40) * 0.3));
  const recipeW = Math.max(8, Math.floor((width - 40) * 0.25));
  const trigW = Math.max(8, width - nameW - recipeW - 8 - 30 - 5);
  const shown = patterns.slice(cursor.top, cursor.top + height);
  return (
    <Box flexDirection="column" height={height + 1}>
      <Text bold wrap="truncate-end">
        {`  ${cell('NAME', nameW)} ${cell('STATE', 7)} ${cell('RECIPE', recipeW)} ${cell('TRIGGER', trigW)}`}
        {JOB_STATES.map((s) => HEAD[s].padStart(6)).join('')}
      </Text>
      {shown.map((p, i) => {
        const selected = cursor.top + i === cursor.selected;
        const counts = stats[p.name];
        return (
          <Text key={p.name} inverse={selected} wrap="truncate-end">
            {`${selected ? '›' : ' '} ${cell(p.name, nameW)} `}
            <Text color={theme.color(p.linked && !p.paused ? 'ok' : 'warn')}>{cell(!p.linked ? 'waiting' : p.paused ? 'paused' : 'linked', 7)}</Text>
            {` ${cell(p.recipe, recipeW)} ${cell(p.paths.join(', '), trigW)}`}
            {JOB_STATES.map((s) => (
              <Text key={s} color={counts?.[s] ? theme.color(stateTone(s)) : theme.color('muted')}>
                {compactCount(counts?.[s] ?? 0).padStart(6)}
              </Text>
            ))}
          </Text>
        );
      })}
      {patterns.length === 0 ? <Text color={theme.color('muted')}>{truncate('  no patterns yet: press n to create one', width)}</Text> : null}
    </Box>
  );
}
