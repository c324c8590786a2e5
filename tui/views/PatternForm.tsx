import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { KeyHints } from '../components/KeyHints.js';
import { useAsync } from '../hooks/use-async.js';
import { useDebounced, useThrottled } from '../hooks/use-debounced.js';
import { formFile, formGlobs, formOutput, type PatternForm as Form } from '../state/pattern-form.js';
import { truncate } from '../state/format.js';
import { useTheme } from '../theme.js';
import { FormChecks } from './FormChecks.js';
import { FormRows, fieldHint } from './FormRows.js';
import type { TuiClient } from '../api/tui-client.js';

/** How long typing must pause before the engine checks the form. */
export const CHECK_DEBOUNCE_MS = 300;

/**
 * The pattern form (controlled; its owner applies `formKey` to keys): fields,
 * inline validation by the engine (a debounced dry run) and a live match
 * preview of the trigger. Both are asked again (at most once a second) when
 * `version` moves — files arrived or jobs changed — so the plan shown is the
 * plan that applying would carry out now.
 */
export function PatternForm(props: {
  client: TuiClient;
  form: Form;
  version: number;
  width: number;
  height: number;
}) {
  const { client, form, width, height } = props;
  const theme = useTheme();
  const output = useMemo(() => formOutput(form), [form]);
  const settled = useDebounced(output, CHECK_DEBOUNCE_MS);
  // Debounce text, not arrays: a fresh array each render would restart the timer forever.
  const globs = JSON.parse(useDebounced(JSON.stringify(formGlobs(form)), CHECK_DEBOUNCE_MS)) as string[];
  const version = useThrottled(props.version, 1000);
  const check = useAsync('content' in settled ? { ...settled, version } : null, (o) => client.changeDefinition(o.file, o.content, true));
  const match = useAsync(globs.length ? { globs, version } : null, (q) => client.match(q.globs, [], 5));
  const title = form.mode === 'new' ? `New pattern → ${form.text.name.trim() ? formFile(form) : 'patterns/NAME.yaml'}` : `Edit ${form.file}`;
  const sampleRows = Math.max(0, height - 15 - form.variables.length);
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold color={theme.color('accent')}>
        {truncate(title, width)}
      </Text>
      <FormRows form={form} width={width} problem={'field' in output ? output.field : null} />
      <Box marginTop={1}>
        <FormChecks client={client} local={'error' in output ? output.error : null} check={check} match={match} width={width} sampleRows={sampleRows} />
      </Box>
      <Box flexGrow={1} />
      <Text color={theme.color('muted')}>{truncate(fieldHint(form), width)}</Text>
      <KeyHints width={width} hints={[['↑/↓', 'row'], ['Enter', 'next'], ['Ctrl-U', 'clear'], ['Ctrl-D', 'drop variable'], ['Esc', 'cancel']]} />
    </Box>
  );
}
