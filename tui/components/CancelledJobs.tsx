import { Box, Text } from 'ink';
import { useAsync } from '../hooks/use-async.js';
import { truncate } from '../state/format.js';
import { useTheme } from '../theme.js';
import type { DefinitionResult, JobJson } from '../api/shapes.js';
import type { TuiClient } from '../api/tui-client.js';

/** The ids of the queued and running jobs a plan would cancel, over all its changes. */
export function cancelledIds(plan: DefinitionResult | null): string[] {
  return plan ? plan.changes.flatMap((c) => c.cancelled_jobs) : [];
}

/** `j-0mwq1tiwy000 hold ← data/long.hold (running)`: what stops, in one line. */
export function describeJob(j: Pick<JobJson, 'id' | 'pattern' | 'input' | 'status'>): string {
  return `${j.id} ${j.pattern} ← ${j.input} (${j.status})`;
}

/**
 * The jobs a definition change would cancel, named one per line (id,
 * pattern, input, state), at most `rows` lines; the rest are counted.
 */
export function CancelledJobs({ client, ids, width, rows }: { client: TuiClient; ids: readonly string[]; width: number; rows: number }) {
  const theme = useTheme();
  const shown = ids.length > rows ? ids.slice(0, Math.max(0, rows - 1)) : ids;
  const jobs = useAsync(shown.length ? shown : null, (list) => Promise.all(list.map((id) => client.job(id).catch(() => null))));
  if (ids.length === 0 || rows <= 0) return null;
  return (
    <Box flexDirection="column">
      {shown.map((id) => {
        const j = jobs.data?.find((x) => x?.id === id);
        return (
          <Text key={id} color={theme.color('warn')} wrap="truncate-end">
            {truncate(`  cancels ${j ? describeJob(j) : id}`, width)}
          </Text>
        );
      })}
      {shown.length < ids.length ? <Text color={theme.color('warn')}>{`  … and ${ids.length - shown.length} more`}</Text> : null}
    </Box>
  );
}
