import { Box, Text } from 'ink';
import { useAsync } from '../hooks/use-async.js';
import { useNow } from '../hooks/use-debounced.js';
import { usePoll } from '../hooks/use-poll.js';
import { clockDuration, firstLine, tailLines, truncate } from '../state/format.js';
import { stateTone, useTheme } from '../theme.js';
import { setSummary } from '../../src/api/job-json.js';
import type { TuiClient } from '../api/tui-client.js';

const time = (iso: string | null) => (iso ? iso.slice(11, 19) : '-');

/** One job: state, attempt, timings, a set job's members in brief, variables, result, error, and a live tail of its stdout or stderr. */
export function JobDetail({ client, id, stream, width, height, version }: { client: TuiClient; id: string; stream: 'stdout' | 'stderr'; width: number; height: number; version: number }) {
  const theme = useTheme();
  const now = useNow(1000);
  const job = usePoll(() => client.job(id), 1000, [id, version]);
  const j = job.data?.id === id ? job.data : null;
  const live = j?.status === 'running' || j?.status === 'queued';
  // Finished jobs' logs are read once per state change; running ones every second.
  const log = useAsync({ id, stream, tick: live ? Math.floor(now / 1000) : 0, status: j?.status }, (q) => client.jobLog(q.id, q.stream, 8192));
  if (!j) return <Text color={theme.color(job.error ? 'error' : 'muted')}>{job.error ?? 'loading…'}</Text>;
  const w = width - 1;
  const elapsed = j.started_at ? clockDuration((j.finished_at ? Date.parse(j.finished_at) : now) - Date.parse(j.started_at)) : '-';
  const vars = Object.entries(j.variables)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('  ');
  const set = setSummary(j);
  const logRows = Math.max(1, height - 9 - (set ? 1 : 0));
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text wrap="truncate-end">
        <Text bold>{j.id}</Text>
        {`  ${j.pattern} ← ${j.input}  `}
        <Text color={theme.color(stateTone(j.status))} bold>
          {j.status}
        </Text>
      </Text>
      <Text wrap="truncate-end">{`attempt ${j.attempt}/${j.retries + 1}  backend ${j.backend}  exit ${j.exit_code ?? '-'}  generation ${j.generation}  recipe ${j.recipe}`}</Text>
      <Text wrap="truncate-end">{`created ${time(j.created_at)}  started ${time(j.started_at)}  finished ${time(j.finished_at)}  elapsed ${elapsed}`}</Text>
      {set ? <Text wrap="truncate-end">{truncate(set, w)}</Text> : null}
      <Text wrap="truncate-end">{truncate(`variables ${vars}`, w)}</Text>
      <Text wrap="truncate-end">{truncate(`result ${j.result === null ? '-' : JSON.stringify(j.result)}`, w)}</Text>
      <Text color={j.error ? theme.color('error') : undefined} wrap="truncate-end">
        {truncate(`error ${firstLine(j.error) || '-'}`, w)}
      </Text>
      <Text bold color={theme.color('accent')}>{truncate(`── ${stream}.log ${'─'.repeat(Math.max(0, w - stream.length - 9))}`, w)}</Text>
      <Box flexDirection="column" height={logRows}>
        {tailLines(log.data ?? '', logRows, w).map((l, i) => (
          <Text key={i} wrap="truncate-end">
            {l || ' '}
          </Text>
        ))}
        {log.data === '' ? <Text color={theme.color('muted')}>{`(${stream} is empty)`}</Text> : null}
      </Box>
    </Box>
  );
}
