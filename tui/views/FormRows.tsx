import { Box, Text } from 'ink';
import { EVENT_KINDS } from '../api/shapes.js';
import { formRows, rowField, type FormField, type FormRow, type PatternForm } from '../state/pattern-form.js';
import { truncateStart } from '../state/format.js';
import { useTheme } from '../theme.js';

const LABELS: Record<FormField, string> = {
  name: 'name',
  recipe: 'recipe',
  trigger: 'trigger',
  events: 'events',
  variables: 'variables',
  settle: 'settle',
  backend: 'backend',
};

const PLACEHOLDERS: Partial<Record<FormField, string>> = {
  name: 'e.g. segment_foam',
  trigger: 'e.g. data/raw/*.csv, data/more/*.csv',
  settle: 'none (e.g. 250ms)',
  backend: 'local (default)',
};

/** One row per form field and per variable, the row adding a variable, and the review row; the focused row is marked. */
export function FormRows({ form, width, problem }: { form: PatternForm; width: number; problem: FormField | null }) {
  const theme = useTheme();
  const valueWidth = Math.max(10, width - 14);
  const row = (i: number, r: FormRow) => {
    const focused = form.focus === i;
    const marker = focused ? '›' : ' ';
    const field = rowField(r);
    if (!field) {
      return (
        <Text key="review" bold={focused} inverse={focused}>
          {`${marker} ▶ review the plan and apply (Enter)`}
        </Text>
      );
    }
    // The variables label heads the first of their rows.
    const first = r.kind === 'add' ? form.variables.length === 0 : r.kind !== 'variable' || r.index === 0;
    const label = <Text color={problem === field ? theme.color('error') : undefined} bold={focused}>{`${marker} ${(first ? LABELS[field] : '').padEnd(10)}`}</Text>;
    if (r.kind === 'add') {
      return (
        <Box key="add">
          {label}
          <Text color={theme.color(focused ? 'accent' : 'muted')}>{form.variables.length ? '+ add a variable' : '+ add a variable (e.g. kernel_size=3)'}</Text>
        </Box>
      );
    }
    if (r.kind === 'variable') {
      const v = form.variables[r.index];
      return (
        <Box key={`var${r.index}`}>
          {label}
          {v === '' && !focused ? <Text color={theme.color('muted')}>name=value</Text> : <Text>{truncateStart(v, valueWidth - 4)}</Text>}
          {focused ? <Text inverse> </Text> : null}
        </Box>
      );
    }
    if (field === 'events') {
      return (
        <Box key={field}>
          {label}
          <Box columnGap={1}>
            {EVENT_KINDS.map((k, j) => (
              <Text key={k} inverse={focused && form.eventCursor === j}>{`${form.events.includes(k) ? '[x]' : '[ ]'} ${k}`}</Text>
            ))}
          </Box>
        </Box>
      );
    }
    if (field === 'variables') return null;
    const value = form.text[field];
    const fixed = field === 'name' && form.mode === 'edit';
    const shown = truncateStart(value, valueWidth - 4);
    return (
      <Box key={field}>
        {label}
        {field === 'recipe' && focused ? <Text color={theme.color('accent')}>‹ </Text> : null}
        {value === '' ? <Text color={theme.color('muted')}>{PLACEHOLDERS[field] ?? ''}</Text> : <Text color={fixed ? theme.color('muted') : undefined}>{shown}</Text>}
        {focused && !fixed && field !== 'recipe' ? <Text inverse> </Text> : null}
        {field === 'recipe' && focused ? <Text color={theme.color('accent')}> ›</Text> : null}
      </Box>
    );
  };
  return (
    <Box flexDirection="column">
      {formRows(form).map((r, i) => row(i, r))}
    </Box>
  );
}

/** What the keys do on the focused row. */
export function fieldHint(form: PatternForm): string {
  const r = formRows(form)[form.focus];
  if (r?.kind === 'add') return 'Enter or type name=value: a new variable, one per row';
  switch (rowField(r)) {
    case 'name':
      return form.mode === 'edit' ? 'the name is the file: rename it with E ($EDITOR)' : 'the pattern name; the file is patterns/NAME.yaml';
    case 'recipe':
      return '←/→ pick a known recipe, or type a name (the pattern waits for it)';
    case 'trigger':
      return 'globs relative to the workspace, separated by commas';
    case 'events':
      return '←/→ move, space toggles the event kinds that trigger';
    case 'variables':
      return 'name=value; {stem} {name} {dir} … placeholders; Ctrl-D removes this variable';
    case 'settle':
      return 'how long a file must stay unchanged, e.g. 250ms or 2s';
    case 'backend':
      return 'a backend from meow.yaml; empty means local';
    default:
      return 'Enter: show what this change triggers and cancels, then confirm';
  }
}
