import { Box, Text } from 'ink';
import { InvalidDefinitions } from '../components/InvalidDefinitions.js';
import { KeyHints } from '../components/KeyHints.js';
import { Sparkline } from '../components/Sparkline.js';
import { StateCounts } from '../components/StateCounts.js';
import { usePoll } from '../hooks/use-poll.js';
import { useNow } from '../hooks/use-debounced.js';
import { cell, clockDuration, firstLine, truncate } from '../state/format.js';
import { progressText } from '../state/progress.js';
import { useTheme } from '../theme.js';
import type { DefinitionError, PatternJson, StatusJson } from '../api/shapes.js';
import type { TuiClient } from '../api/tui-client.js';
import type { EngineStream } from '../hooks/use-engine-stream.js';

const NO_FILTER = { pattern: null, text: '' };

/**
 * Jobs by state, invalid definition files, open fan-in groups, event and job
 * rates, running jobs with elapsed time and progress, the latest failures
 * (current ones, or with `history` superseded ones too).
 */
export function OverviewView(props: {
  client: TuiClient;
  status: StatusJson | null;
  patterns: PatternJson[] | null;
  invalid: readonly DefinitionError[];
  stream: EngineStream;
  width: number;
  height: number;
  active: boolean;
  history: boolean;
}) {
  const { client, status, patterns, invalid, stream, width, height, active, history } = props;
  const theme = useTheme();
  const now = useNow(1000);
  const sets = status?.pending_sets ?? [];
  // Open fan-in groups: a heading and up to three of them, when there are any.
  const setRows = Math.min(3, sets.length);
  const setLines = setRows ? setRows + 1 : 0;
  const invRows = invalid.length ? Math.min(4, invalid.length * 2) + 1 : 0;
  const failRows = Math.max(1, Math.min(4, Math.floor((height - 9 - invRows - setLines) / 3)));
  const runRows = Math.max(2, height - 9 - failRows - invRows - setLines);
  const runJobs = Math.max(1, Math.floor(runRows / 2));
  const running = usePoll(() => client.jobs({ ...NO_FILTER, status: 'running' }, 0, runJobs), 1000, [stream.jobsVersion, runJobs], active);
  const runningIds = (running.data?.jobs ?? []).map((j) => j.id);
  const progress = usePoll(() => client.progress(runningIds), 1000, [runningIds.join(' ')], active);
  const failed = usePoll(() => client.jobs({ ...NO_FILTER, status: 'failed' }, 0, failRows, !history), 2000, [stream.jobsVersion, failRows, history], active);
  const waiting = patterns?.filter((p) => !p.linked).length ?? 0;
  const idW = width >= 100 ? 21 : 15;
  const patW = Math.max(8, Math.floor((width - idW - 20) * 0.3));
  const inW = Math.max(10, width - idW - patW - 18);
  const more = (status?.jobs.running ?? 0) - runningIds.length;
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Box>
        <Text>{'Jobs     '}</Text>
        {status ? <StateCounts counts={status.jobs} short={width < 80} /> : <Text color={theme.color('muted')}>…</Text>}
      </Box>
      <Text wrap="truncate-end">
        {`Patterns ${status?.patterns ?? '…'}`}
        {waiting ? <Text color={theme.color('warn')}>{` (${waiting} waiting for a recipe)`}</Text> : ''}
        {invalid.length ? <Text color={theme.color('error')}>{`  ${invalid.length} invalid`}</Text> : ''}
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
      {invalid.length ? (
        <>
          <Text bold color={theme.color('error')}>{`Invalid definitions (${invalid.length}): left out until fixed`}</Text>
          <InvalidDefinitions errors={invalid} width={width} rows={invRows - 1} linesEach={2} />
        </>
      ) : null}
      <Text bold>{`Running (${status?.jobs.running ?? 0})`}</Text>
      <Box flexDirection="column" height={runRows}>
        {(running.data?.jobs ?? []).map((j) => {
          const p = progressText(progress.data?.find((x) => x.id === j.id) ?? null);
          return (
            <Box key={j.id} flexDirection="column">
              <Text wrap="truncate-end">
                {`  ${cell(j.id.slice(0, idW - 1), idW - 1)} ${cell(j.pattern, patW)} ${cell(j.input, inW)} `}
                <Text color={theme.color('active')}>{clockDuration(now - Date.parse(j.started_at ?? j.created_at)).padStart(7)}</Text>
                {` ${truncate(j.backend, 8)}`}
              </Text>
              <Text color={theme.color('muted')} wrap="truncate-end">
                {truncate(`    ${p.cells ? `${p.cells}  ` : ''}${p.line ?? '(no output yet)'}`, width)}
              </Text>
            </Box>
          );
        })}
        {running.data?.jobs.length === 0 ? <Text color={theme.color('muted')}>  nothing running</Text> : null}
        {more > 0 && running.data ? <Text color={theme.color('muted')}>{`  … and ${more} more ([4] jobs)`}</Text> : null}
      </Box>
      <Text bold>{`${history ? 'Latest failures, superseded ones too' : 'Latest failures'} (${status?.jobs.failed ?? 0})`}</Text>
      <Box flexDirection="column" height={failRows}>
        {(failed.data?.jobs ?? []).map((j) => (
          <Text key={j.id} wrap="truncate-end">
            {`  ${cell(j.id.slice(0, idW - 1), idW - 1)} ${cell(j.pattern, patW)} `}
            <Text color={theme.color(j.superseded ? 'muted' : 'error')}>{truncate(`${j.superseded ? '(superseded) ' : ''}${firstLine(j.error) || `exit ${j.exit_code ?? '?'}`}`, Math.max(10, width - idW - patW - 5))}</Text>
          </Text>
        ))}
        {failed.data?.jobs.length === 0 ? <Text color={theme.color('muted')}>{history ? '  no failures' : '  no current failures ([h] shows superseded ones)'}</Text> : null}
      </Box>
      <Box flexGrow={1} />
      <KeyHints width={width} hints={[['2', 'patterns'], ['4', 'jobs'], ['5', 'events'], ['h', history ? 'current only' : 'history']]} />
    </Box>
  );
}
