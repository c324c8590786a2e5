import { Box, Text } from 'ink';
import { useSyncState } from '../hooks/use-sync-state.js';
import { KeyHints } from '../components/KeyHints.js';
import { usePoll } from '../hooks/use-poll.js';
import { truncate } from '../state/format.js';
import { clampCursor, moveCursor, START } from '../state/list-window.js';
import { editPatternForm, formKey, formOutput, newPatternForm, type PatternForm as Form } from '../state/pattern-form.js';
import { planTotals } from '../state/plan-summary.js';
import { useTheme } from '../theme.js';
import { PatternForm } from './PatternForm.js';
import { PatternTable } from './PatternTable.js';
import { PlanConfirm, planReady } from './PlanConfirm.js';
import { messageOf, type TuiClient } from '../api/tui-client.js';
import type { DefinitionError, DefinitionResult, PatternJson, RecipeJson } from '../api/shapes.js';
import type { EngineStream } from '../hooks/use-engine-stream.js';
import { InvalidDefinitions } from '../components/InvalidDefinitions.js';
import type { KeyPress } from '../state/keys.js';
import type { ViewProps } from './view-props.js';

type Mode =
  | { kind: 'list' }
  | { kind: 'form'; form: Form }
  | { kind: 'confirm'; file: string; content: string | null; back: Form | null; plan: DefinitionResult | null; error: string | null; applying: boolean };

/** Patterns: the table, and the form and plan of a new, edited or deleted pattern. */
export function PatternsView(props: ViewProps & { client: TuiClient; patterns: PatternJson[] | null; recipes: RecipeJson[] | null; invalid: readonly DefinitionError[]; stream: EngineStream }) {
  const { client, width, height, active, flash, invalid, history } = props;
  const theme = useTheme();
  const patterns = props.patterns ?? [];
  const [mode, setMode, getMode] = useSyncState<Mode>({ kind: 'list' });
  const [cursor, setCursor, getCursor] = useSyncState(START);
  const stats = usePoll(() => client.patternStats(!history), 2000, [props.stream.jobsVersion, history], active);
  const invRows = invalid.length ? Math.min(invalid.length * 3, Math.max(2, Math.floor(height / 3))) : 0;
  const listHeight = Math.max(1, height - 6 - (invRows ? invRows + 1 : 0));
  const at = clampCursor(cursor, patterns.length, listHeight);
  const selected = patterns[at.selected] as PatternJson | undefined;
  const recipeNames = (props.recipes ?? []).map((r) => r.name);

  const review = (file: string, content: string | null, back: Form | null) => {
    setMode({ kind: 'confirm', file, content, back, plan: null, error: null, applying: false });
    client.changeDefinition(file, content, true).then(
      (plan) => setMode((m) => (m.kind === 'confirm' && m.file === file ? { ...m, plan } : m)),
      (err: unknown) => setMode((m) => (m.kind === 'confirm' ? { ...m, error: messageOf(err) } : m)),
    );
  };
  const apply = (m: Extract<Mode, { kind: 'confirm' }>) => {
    setMode({ ...m, applying: true });
    client.changeDefinition(m.file, m.content, false).then(
      (r) => {
        if (r.errors.length) return setMode({ ...m, plan: r, applying: false });
        const t = planTotals(r);
        flash(`${m.content === null ? 'deleted' : 'applied'} ${m.file}: ${t.triggers} jobs triggered, ${t.cancels} cancelled`, 'ok');
        setMode({ kind: 'list' });
      },
      (err: unknown) => setMode({ ...m, error: messageOf(err), applying: false }),
    );
  };

  const formKeys = (m: Extract<Mode, { kind: 'form' }>, input: string, key: KeyPress) => {
    const r = formKey(m.form, input, key, recipeNames);
    if (r.command === 'cancel') setMode({ kind: 'list' });
    else if (r.command === 'review') {
      const out = formOutput(m.form);
      if ('content' in out) review(out.file, out.content, m.form);
      else flash(`${out.field}: ${out.error}`, 'warn');
    } else if (r.state !== m.form) setMode({ kind: 'form', form: r.state });
  };
  const listKeys = (input: string, key: KeyPress): boolean => {
    const c = clampCursor(getCursor(), patterns.length, listHeight);
    const p = patterns[c.selected] as PatternJson | undefined;
    const moved = moveCursor(c, input, key, patterns.length, listHeight);
    if (moved) setCursor(moved);
    else if (input === 'n') setMode({ kind: 'form', form: newPatternForm(recipeNames) });
    else if (!p) return false;
    else if (input === 'e' || key.return) {
      client.definition(p.file).then(
        (source) => setMode((m) => (m.kind === 'list' ? { kind: 'form', form: editPatternForm(p.file, source) } : m)),
        (err: unknown) => flash(messageOf(err), 'error'),
      );
    } else if (input === 'd') review(p.file, null, null);
    else if (input === 'E') props.openEditor(p.file);
    else if (input === ' ') {
      client.setPaused(p.name, !p.paused).then(
        (q) => flash(`${q.name} ${q.paused ? 'paused: its jobs wait until you resume it' : 'resumed'}`, 'ok'),
        (err: unknown) => flash(messageOf(err), 'error'),
      );
    }
    else return false;
    return true;
  };
  // The form and the plan take every key; the list leaves the app's keys alone.
  props.keys.current = (input, key) => {
    const m = getMode();
    if (m.kind === 'list') return listKeys(input, key);
    if (m.kind === 'form') formKeys(m, input, key);
    else if (input === 'y' && planReady(m.plan, m.applying)) apply(m);
    else if (input === 'n' || key.escape) setMode(m.back ? { kind: 'form', form: m.back } : { kind: 'list' });
    return true;
  };

  if (mode.kind === 'form') {
    return (
      <PatternForm
        client={client}
        form={mode.form}
        version={props.stream.filesVersion + props.stream.jobsVersion}
        width={width}
        height={height}
      />
    );
  }
  if (mode.kind === 'confirm') {
    return (
      <PlanConfirm
        {...mode}
        client={client}
        deleting={mode.content === null}
        width={width}
        height={height}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text wrap="truncate-end">
        {`${patterns.length} pattern${patterns.length === 1 ? '' : 's'}`}
        {invalid.length ? <Text color={theme.color('error')}>{`  ${invalid.length} invalid definition file${invalid.length === 1 ? '' : 's'} (left out until fixed)`}</Text> : ''}
        <Text color={theme.color('muted')}>{`  FAIL: ${history ? 'every failure, superseded ones too' : 'current failures'}`}</Text>
      </Text>
      <PatternTable patterns={patterns} stats={stats.data ?? {}} cursor={at} width={width} height={listHeight} />
      {invalid.length ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold color={theme.color('error')}>{`Invalid definitions (${invalid.length})`}</Text>
          <InvalidDefinitions errors={invalid} width={width} rows={invRows} linesEach={3} />
        </Box>
      ) : null}
      <Box flexGrow={1} />
      {selected ? (
        <Text color={theme.color('muted')} wrap="truncate-end">
          {truncate(`${selected.file}  on ${selected.events.join(', ')}  ${selected.linked ? '' : `waiting for recipe "${selected.recipe}"`}`, width)}
        </Text>
      ) : null}
      <KeyHints width={width} hints={[['n', 'new'], ['e', 'edit'], ['d', 'delete'], ['E', '$EDITOR'], ['space', 'pause'], ['h', history ? 'current' : 'history']]} />
    </Box>
  );
}
