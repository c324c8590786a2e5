import { Box, Text } from 'ink';
import { KeyHints } from '../components/KeyHints.js';
import { Sparkline } from '../components/Sparkline.js';
import { StateCounts } from '../components/StateCounts.js';
import { usePoll } from '../hooks/use-poll.js';
import { useNow } from '../hooks/use-debounced.js';
import { cell, clockDuration, firstLine, truncate } from '../state/format.js';
import { useTheme } from '../theme.js';
import type { PatternJson, StatusJson } from '../api/shapes.js';
import type { TuiClient } from '../api/tui-client.js';
import type { EngineStream } from '../hooks/use-engine-stream.js';

const NO_FILTER = { pattern: null, text: '' };

/** Jobs by state, open fan-in groups, event and job rates, running jobs with elapsed time, the latest failures. */
export function OverviewView(props: { client: TuiClient; status: StatusJson | null; patterns: PatternJson[] | null; stream: EngineStream; width: number; height: number; active: boolean }) {
  const { client, status, patterns, stream, width, height, active } = props;
  const theme = useTheme();
  const now = useNow(1000);
  const sets = status?.pending_sets ?? [];
  // Open fan-in groups: a heading and up to three of them, when there are any.
  const setRows = Math.min(3, sets.length);
  const setLines = setRows ? setRows + 1 : 0;
  const failRows = Math.max(1, Math.min(4, Math.floor((height - 9 - setLines) / 2)));
  const runRows = Math.max(1, height - 9 - setLines - failRows);
  const running = usePoll(() => client.jobs({ ...NO_FILTER, status: 'running' }, 0, runRows), 1000, [stream.jobsVersion, runRows], active);
  const failed = usePoll(() => client.jobs({ ...NO_FILTER, status: 'failed' }, 0, failRows), 2000, [stream.jobsVersion, failRows], active);
  const waiting = patterns?.filter((p) => !p.linked).length ?? 0;
  const idW = width >= 100 ? 21 : 15;
  const patW = Math.max(8, Math.floor((width - idW - 20) * 0.3));
  const inW = Math.max(10, width - idW - patW - 18);
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Box>
        <Text>{'Jobs     '}</Text>
        {status ? <StateCounts counts={status.jobs} short={width < 80} /> : <Text color={theme.color('muted')}>…</Text>}
      </Box>
      <Text>
        {`Patterns ${status?.patterns ?? '…'}`}
        {waiting ? <Text color={theme.color('warn')}>{` (${waiting} waiting for a recipe)`}</Text> : ''}
        {`   Recipes ${status?.recipes ?? '…'}`}
      </Text>
      {setRows ? <Text bold>{`Pending sets (${sets.length})`}</Text> : null}
      {sets.slice(0, setRows).map((p) => (
        <Text key={`${p.pattern}\0${p.key}`} wrap="truncate-end">
          {truncate(`  ${p.pattern} ${p.key || '(all files)'}: ${p.progress}`, width - 1)}
        </Text>
      ))}
      <Sparkline label="events/s" series={stream.events} now={now} width={width} />
      <Sparkline label="jobs/s" series={stream.jobs} now={now} width={width} />
      <Text bold>{`Running (${status?.jobs.running ?? 0})`}</Text>
      <Box flexDirection="column" height={runRows}>
        {(running.data?.jobs ?? []).map((j) => (
          <Text key={j.id} wrap="truncate-end">
            {`  ${cell(j.id.slice(0, idW - 1), idW - 1)} ${cell(j.pattern, patW)} ${cell(j.input, inW)} `}
            <Text color={theme.color('active')}>{clockDuration(now - Date.parse(j.started_at ?? j.created_at)).padStart(7)}</Text>
            {` ${truncate(j.backend, 8)}`}
          </Text>
        ))}
        {running.data?.jobs.length === 0 ? <Text color={theme.color('muted')}>  nothing running</Text> : null}
      </Box>
      <Text bold>{`Latest failures (${status?.jobs.failed ?? 0})`}</Text>
      <Box flexDirection="column" height={failRows}>
        {(failed.data?.jobs ?? []).map((j) => (
          <Text key={j.id} wrap="truncate-end">
            {`  ${cell(j.id.slice(0, idW - 1), idW - 1)} ${cell(j.pattern, patW)} `}
            <Text color={theme.color('error')}>{truncate(firstLine(j.error) || `exit ${j.exit_code ?? '?'}`, Math.max(10, width - idW - patW - 5))}</Text>
          </Text>
        ))}
        {failed.data?.jobs.length === 0 ? <Text color={theme.color('muted')}>  no failures</Text> : null}
      </Box>
      <Box flexGrow={1} />
      <KeyHints width={width} hints={[['2', 'patterns'], ['4', 'jobs (Enter: detail)'], ['5', 'events']]} />
    </Box>
  );
}
