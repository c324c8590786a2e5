import { Box, Text } from 'ink';
import { CancelledJobs, cancelledIds } from '../components/CancelledJobs.js';
import { KeyHints } from '../components/KeyHints.js';
import { cell, count, truncate } from '../state/format.js';
import { planSentence } from '../state/plan-summary.js';
import { useTheme } from '../theme.js';
import type { DefinitionResult } from '../api/shapes.js';
import type { TuiClient } from '../api/tui-client.js';

/** Whether the plan may be applied: planned, valid, not being applied already. */
export function planReady(plan: DefinitionResult | null, applying: boolean): boolean {
  return plan !== null && plan.errors.length === 0 && !applying;
}

/**
 * The plan of a definition change, shown before anything is written: what it
 * triggers and cancels, per rule, and each job it would cancel by name. Its
 * owner takes `y` (apply, once `ready`) and `n`/Esc (back).
 */
export function PlanConfirm(props: {
  client: TuiClient;
  file: string;
  deleting: boolean;
  plan: DefinitionResult | null;
  error: string | null;
  applying: boolean;
  width: number;
  height: number;
}) {
  const { file, deleting, plan, error, applying, width, height } = props;
  const theme = useTheme();
  const ready = planReady(plan, applying);
  const cancels = cancelledIds(plan);
  const cancelRows = cancels.length ? Math.min(cancels.length, Math.max(1, Math.floor((height - 7) / 2))) : 0;
  const rows = Math.max(1, height - 6 - cancelRows);
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold color={theme.color(deleting ? 'warn' : 'accent')}>
        {truncate(`${deleting ? 'Delete' : 'Apply'} ${file}?`, width)}
      </Text>
      {error ? <Text color={theme.color('error')}>{truncate(`✗ ${error}`, width)}</Text> : null}
      {!plan && !error ? <Text color={theme.color('muted')}>planning…</Text> : null}
      {plan?.errors.map((e, i) => (
        <Text key={i} color={theme.color('error')}>
          {truncate(`✗ ${e.key ? `${e.key}: ` : ''}${e.message}`, width)}
        </Text>
      ))}
      {plan && plan.errors.length === 0 ? (
        <>
          <Text bold>{truncate(`${planSentence(plan, deleting ? 'Deleting it' : 'This edit')}.`, width)}</Text>
          <Box flexDirection="column" marginTop={1} height={rows}>
            {plan.changes.slice(0, rows).map((c) => (
              <Text key={c.pattern} wrap="truncate-end">
                {`  ${cell(c.change, 8)} ${cell(c.pattern, 16)} recipe ${cell(c.recipe ?? '-', 12)} `}
                {`${count(c.files)} files, ${count(c.triggers)} jobs, ${count(c.cancels)} cancelled`}
              </Text>
            ))}
          </Box>
          <CancelledJobs client={props.client} ids={cancels} width={width} rows={cancelRows} />
        </>
      ) : null}
      <Box flexGrow={1} />
      {applying ? <Text color={theme.color('muted')}>applying…</Text> : <KeyHints width={width} hints={ready ? [['y', deleting ? 'delete' : 'apply'], ['n/Esc', 'back']] : [['n/Esc', 'back']]} />}
    </Box>
  );
}
