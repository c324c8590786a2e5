import { Box, Text } from 'ink';
import { ago, cell } from '../state/format.js';
import { stateTone, useTheme } from '../theme.js';
import type { JobPage } from '../api/shapes.js';
import type { ListCursor } from '../state/list-window.js';

/** The rows of the jobs list on screen, from the loaded page; the selected one marked. */
export function JobTable({ page, cursor, width, height, now }: { page: JobPage | null; cursor: ListCursor; width: number; height: number; now: number }) {
  const theme = useTheme();
  const idW = width >= 110 ? 20 : 14;
  const patW = Math.max(8, Math.floor((width - idW - 20) * 0.25));
  const inW = Math.max(8, width - idW - patW - 10 - 5 - 6);
  const rows = [];
  for (let i = cursor.top; page && i < Math.min(cursor.top + height, page.total); i++) {
    const j = page.jobs[i - page.offset];
    const selected = i === cursor.selected;
    const mark = selected ? '›' : ' ';
    if (!j) {
      rows.push(<Text key={`row${i}`} color={theme.color('muted')}>{`${mark} …`}</Text>);
      continue;
    }
    rows.push(
      <Text key={j.id} inverse={selected} wrap="truncate-end">
        {`${mark} ${cell(j.id.slice(0, idW), idW)} ${cell(j.pattern, patW)} `}
        <Text color={theme.color(stateTone(j.status))}>{cell(j.status, 9)}</Text>
        {` ${cell(j.input, inW)} ${ago(j.finished_at ?? j.started_at ?? j.created_at, now).padStart(4)}`}
      </Text>,
    );
  }
  return (
    <Box flexDirection="column" height={height + 1}>
      <Text bold wrap="truncate-end">{`  ${cell('ID', idW)} ${cell('PATTERN', patW)} ${cell('STATE', 9)} ${cell('INPUT', inW)}  AGE`}</Text>
      {rows}
      {page && page.total === 0 ? <Text color={theme.color('muted')}>  no jobs match</Text> : null}
      {!page ? <Text color={theme.color('muted')}>  loading…</Text> : null}
    </Box>
  );
}
