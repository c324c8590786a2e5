import { Box, Text } from 'ink';
import { count, truncate } from '../state/format.js';
import { planSentence } from '../state/plan-summary.js';
import { useTheme } from '../theme.js';
import { CancelledJobs, cancelledIds } from '../components/CancelledJobs.js';
import type { TuiClient } from '../api/tui-client.js';
import type { DefinitionResult, MatchPreview } from '../api/shapes.js';
import type { AsyncValue } from '../hooks/use-async.js';

/**
 * Under the form: the engine's verdict on the pattern as typed (errors, or
 * what it would trigger, naming the jobs it would cancel) and the live match
 * preview of its trigger globs.
 */
export function FormChecks(props: { client: TuiClient; local: string | null; check: AsyncValue<DefinitionResult>; match: AsyncValue<MatchPreview>; width: number; sampleRows: number }) {
  const { local, check, match, width } = props;
  const theme = useTheme();
  const w = Math.max(10, width - 2);
  let verdict;
  if (local) verdict = <Text color={theme.color('warn')}>{truncate(`… ${local}`, w)}</Text>;
  else if (check.error) verdict = <Text color={theme.color('error')}>{truncate(`✗ ${check.error}`, w)}</Text>;
  else if (!check.data) verdict = <Text color={theme.color('muted')}>checking…</Text>;
  else if (check.data.errors.length) {
    verdict = (
      <Box flexDirection="column">
        {check.data.errors.slice(0, 2).map((e, i) => (
          <Text key={i} color={theme.color('error')}>
            {truncate(`✗ ${e.key ? `${e.key}: ` : ''}${e.message}`, w)}
          </Text>
        ))}
      </Box>
    );
  } else verdict = <Text color={theme.color('ok')}>{truncate(`✓ valid: ${planSentence(check.data)}`, w)}</Text>;
  const cancels = local || check.error ? [] : cancelledIds(check.data);
  const cancelRows = Math.min(cancels.length, Math.max(1, Math.floor(props.sampleRows / 2)));
  const sampleRows = Math.max(0, props.sampleRows - cancelRows);
  const m = match.data;
  return (
    <Box flexDirection="column">
      {verdict}
      <CancelledJobs client={props.client} ids={cancels} width={w} rows={cancelRows} />
      <Text bold>
        {'Match preview: '}
        {match.error ? (
          <Text color={theme.color('error')}>{truncate(match.error, w - 15)}</Text>
        ) : m ? (
          `${count(m.count)} existing file${m.count === 1 ? '' : 's'} match`
        ) : (
          <Text color={theme.color('muted')}>type a trigger glob</Text>
        )}
      </Text>
      {(m?.sample ?? []).slice(0, sampleRows).map((p) => (
        <Text key={p} color={theme.color('muted')}>
          {truncate(`  ${p}`, w)}
        </Text>
      ))}
      {m && m.count > Math.min(sampleRows, m.sample.length) && sampleRows > 0 ? <Text color={theme.color('muted')}>{`  … and ${count(m.count - Math.min(sampleRows, m.sample.length))} more`}</Text> : null}
    </Box>
  );
}
