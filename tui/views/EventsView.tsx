import { Box, Text } from 'ink';
import { useSyncState } from '../hooks/use-sync-state.js';
import { KeyHints } from '../components/KeyHints.js';
import { truncate } from '../state/format.js';
import { EVENT_FILTERS, filterEntries, type EntryLevel, type EventLog, type LogEntry } from '../state/event-log.js';
import { useTheme, type Tone } from '../theme.js';
import type { ViewProps } from './view-props.js';

const TONE: Record<EntryLevel, Tone | null> = { info: null, ok: 'ok', warn: 'warn', error: 'error' };
const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

/**
 * The live event stream: file events, job transitions, rule changes, logs.
 * Space pauses (the lines stay put; ↑/↓ scroll), `f` cycles a filter.
 */
export function EventsView(props: ViewProps & { log: EventLog }) {
  const { width, height } = props;
  const theme = useTheme();
  const [frozen, setFrozen, getFrozen] = useSyncState<readonly LogEntry[] | null>(null);
  const [filter, setFilter] = useSyncState(0);
  const [scroll, setScroll] = useSyncState(0);
  const rows = Math.max(1, height - 2);
  const entries = filterEntries(frozen ?? props.log.entries, EVENT_FILTERS[filter]);
  const maxScroll = Math.max(0, entries.length - rows);
  const back = frozen ? Math.min(scroll, maxScroll) : 0;
  const shown = entries.slice(Math.max(0, entries.length - rows - back), entries.length - back);
  const newer = frozen ? props.log.next - 1 - (frozen[frozen.length - 1]?.seq ?? 0) : 0;
  props.keys.current = (input, key) => {
    const paused = getFrozen() !== null;
    const by = key.upArrow || input === 'k' ? 1 : key.downArrow || input === 'j' ? -1 : key.pageUp ? rows : key.pageDown ? -rows : 0;
    if (input === ' ' || input === 'p') {
      setFrozen(paused ? null : props.log.entries);
      setScroll(0);
    } else if (input === 'f') setFilter((f) => (f + 1) % EVENT_FILTERS.length);
    else if (paused && by !== 0) setScroll((b) => Math.max(0, Math.min(maxScroll, b + by)));
    else return false;
    return true;
  };
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text wrap="truncate-end">
        {frozen ? <Text color={theme.color('warn')} bold>{`PAUSED (${newer} newer)`}</Text> : <Text color={theme.color('ok')}>following</Text>}
        {`  filter: ${EVENT_FILTERS[filter]}  ${entries.length} lines`}
      </Text>
      <Box flexDirection="column" height={rows}>
        {shown.map((e) => (
          <Text key={e.seq} wrap="truncate-end">
            <Text color={theme.color('muted')}>{`${clock(e.at)} ${e.kind.padEnd(4)} `}</Text>
            <Text color={TONE[e.level] ? theme.color(TONE[e.level] as Tone) : undefined}>{truncate(e.text, width - 15)}</Text>
          </Text>
        ))}
        {entries.length === 0 ? <Text color={theme.color('muted')}>waiting for events…</Text> : null}
      </Box>
      <KeyHints width={width} hints={[['space', frozen ? 'resume' : 'pause'], ['f', 'filter'], ...(frozen ? ([['↑/↓', 'scroll']] as const) : [])]} />
    </Box>
  );
}
