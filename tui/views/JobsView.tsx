import { Box, Text } from 'ink';
import { useSyncState } from '../hooks/use-sync-state.js';
import { KeyHints } from '../components/KeyHints.js';
import { useNow } from '../hooks/use-debounced.js';
import { useJobsPage } from '../hooks/use-jobs-page.js';
import { count, truncate } from '../state/format.js';
import { anchorCursor, cancelQuestion, INITIAL_JOBS, jobsKey } from '../state/jobs-query.js';
import { clampCursor } from '../state/list-window.js';
import { useTheme } from '../theme.js';
import { JobDetail } from './JobDetail.js';
import { JobTable } from './JobTable.js';
import { messageOf, type TuiClient } from '../api/tui-client.js';
import type { PatternJson } from '../api/shapes.js';
import type { ViewProps } from './view-props.js';

/**
 * Jobs: newest first, filtered by state, pattern and input path (current
 * jobs, or with `history` superseded failures too); Enter opens one. The
 * selection follows its job when new jobs push it down, and `c` asks before
 * it cancels, naming the job.
 */
export function JobsView(props: ViewProps & { client: TuiClient; patterns: PatternJson[] | null; jobsVersion: number }) {
  const { client, width, height, active, flash, history } = props;
  const theme = useTheme();
  const now = useNow(1000);
  const [s, setS, getS] = useSyncState(INITIAL_JOBS);
  const listHeight = Math.max(1, height - 3);
  const loaded = useJobsPage(client, s.filter, s.cursor, listHeight, props.jobsVersion, active && s.detail === null, !history, (before, after) =>
    setS((prev) => ({ ...prev, cursor: anchorCursor(prev.cursor, before, after, listHeight) })),
  );
  const total = loaded.page?.total ?? 0;
  const cursor = clampCursor(s.cursor, total, listHeight);

  const act = (what: 'cancel' | 'retry', id: string) =>
    (what === 'cancel' ? client.cancel(id) : client.retry(id)).then(
      (j) => flash(`${j.id}: ${what === 'cancel' ? 'cancelled' : 'queued again'}`, 'ok'),
      (err: unknown) => flash(messageOf(err), 'error'),
    );
  // `c` asks first: the question names the job as the engine has it now (and only a queued or running one is asked about).
  const ask = (id: string) =>
    client.job(id).then(
      (j) => {
        if (j.status !== 'queued' && j.status !== 'running') return flash(`${j.id} is ${j.status}: only queued or running jobs can be cancelled`, 'warn');
        setS((prev) => ({ ...prev, confirm: { id: j.id, pattern: j.pattern, input: j.input, status: j.status } }));
      },
      (err: unknown) => flash(messageOf(err), 'error'),
    );
  // While a search is typed, every key is the view's.
  props.keys.current = (input, key) => {
    const names = (props.patterns ?? []).map((p) => p.name);
    const now = getS();
    // The page the cursor was last anchored to, which may be newer than this render's.
    const page = loaded.latest(now.filter) ?? loaded.page;
    const pageTotal = page?.total ?? 0;
    const at = clampCursor(now.cursor, pageTotal, listHeight);
    const row = page?.jobs[at.selected - page.offset] ?? null;
    const r = jobsKey({ ...now, cursor: at }, input, key, { patterns: names, total: pageTotal, height: listHeight });
    if (!r.handled) return false;
    setS(r.state);
    const id = now.detail ?? row?.id;
    if (r.command === 'open' && row) setS({ ...r.state, detail: row.id });
    else if (r.command === 'cancel' && id) void ask(id);
    else if (r.command === 'retry' && id) void act('retry', id);
    else if (r.command === 'confirmed' && now.confirm) void act('cancel', now.confirm.id);
    else if (r.command === 'declined' && now.confirm) flash(`${now.confirm.id} not cancelled`, 'accent');
    return true;
  };

  const f = s.filter;
  const search = s.draft !== null ? `${s.draft}▏` : f.text || '-';
  const shown = total === 0 ? '0' : `${count(cursor.top + 1)}–${count(Math.min(total, cursor.top + listHeight))} of ${count(total)}`;
  return (
    <Box flexDirection="column" height={height} width={width}>
      {s.detail ? (
        active && <JobDetail client={client} id={s.detail} stream={s.stream} width={width} height={height - 1} version={props.jobsVersion} />
      ) : (
        <>
          <Box justifyContent="space-between" width={width}>
            <Text wrap="truncate-end">
              {'state '}
              <Text bold>{f.status ?? 'all'}</Text>
              {'  pattern '}
              <Text bold>{truncate(f.pattern ?? 'all', 16)}</Text>
              {'  search '}
              <Text bold inverse={s.draft !== null}>
                {truncate(search, 20)}
              </Text>
              {history ? '  +superseded' : ''}
            </Text>
            <Text color={theme.color(loaded.error ? 'error' : 'muted')}>{loaded.error ? truncate(loaded.error, 30) : shown}</Text>
          </Box>
          <JobTable page={loaded.page} cursor={cursor} width={width} height={listHeight} now={now} />
          <Box flexGrow={1} />
        </>
      )}
      {s.confirm ? (
        <Text color={theme.color('warn')} bold wrap="truncate-end">
          {cancelQuestion(s.confirm, width)}
        </Text>
      ) : (
      <KeyHints
        width={width}
        hints={
          s.draft !== null
            ? [['type', 'input path'], ['Enter', 'search'], ['Esc', 'cancel']]
            : s.detail
              ? [['Esc', 'back'], ['l', s.stream === 'stdout' ? 'stderr' : 'stdout'], ['c', 'cancel'], ['r', 'retry']]
              : [['s', 'state'], ['p', 'pattern'], ['/', 'search'], ['x', 'clear'], ['Enter', 'detail'], ['c', 'cancel'], ['r', 'retry'], ['h', history ? 'current' : 'history']]
        }
      />
      )}
    </Box>
  );
}
