import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { StatusBar, type Flash } from './components/StatusBar.js';
import { TabBar } from './components/TabBar.js';
import { useEngineStream } from './hooks/use-engine-stream.js';
import { useSyncState } from './hooks/use-sync-state.js';
import { usePoll } from './hooks/use-poll.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { INITIAL_NAV, navigate, VIEWS, type ViewName } from './state/navigation.js';
import { makeTheme, ThemeContext, type Tone } from './theme.js';
import { EventsView } from './views/EventsView.js';
import { HelpView } from './views/HelpView.js';
import { JobsView } from './views/JobsView.js';
import { OverviewView } from './views/OverviewView.js';
import { PatternsView } from './views/PatternsView.js';
import { RecipesView } from './views/RecipesView.js';
import type { TuiClient } from './api/tui-client.js';
import type { KeySlot } from './views/view-props.js';
import { keyOf, splitChunk, type KeyPress } from './state/keys.js';

export interface AppProps {
  client: TuiClient;
  /** Plain text, no colours (NO_COLOR). @default false */
  noColor?: boolean;
  /** Opens a workspace-relative file in $EDITOR; the TUI waits for it. */
  openEditor?: (file: string) => void;
  /** Runs when the user quits, before the app unmounts. */
  onQuit?: () => void;
  /** @default 'overview' */
  initialView?: ViewName;
}

/**
 * The terminal UI: a tab bar, the current view, a status bar. Every view
 * stays mounted (hidden ones keep their filters and selection, and stop
 * polling); data comes from the engine's control socket only.
 */
export function App(props: AppProps) {
  const { client } = props;
  const { exit } = useApp();
  const { write } = useStdout();
  const { columns, rows } = useTerminalSize();
  const theme = useMemo(() => makeTheme(props.noColor ?? false), [props.noColor]);
  const stream = useEngineStream(client);
  const [nav, setNav, getNav] = useSyncState({ ...INITIAL_NAV, view: props.initialView ?? INITIAL_NAV.view });
  const slots = useRef(Object.fromEntries(VIEWS.map((v) => [v.name, { current: null }])) as Record<ViewName, KeySlot>);
  const [flash, setFlash] = useState<Flash | null>(null);
  const flashTimer = useRef<NodeJS.Timeout | null>(null);
  const status = usePoll(() => client.status(nav.history), 1000, [nav.history], stream.connected);
  const invalid = usePoll(() => client.invalidDefinitions(), 5000, [stream.rulesVersion], stream.connected);
  const patterns = usePoll(() => client.patterns(), 5000, [stream.rulesVersion], stream.connected);
  const recipes = usePoll(() => client.recipes(), 5000, [stream.rulesVersion], stream.connected);

  const showFlash = useCallback((text: string, tone: Tone = 'accent') => {
    if (flashTimer.current) clearTimeout(flashTimer.current);
    setFlash({ text, tone });
    flashTimer.current = setTimeout(() => setFlash(null), 5000);
  }, []);
  useEffect(() => () => void (flashTimer.current && clearTimeout(flashTimer.current)), []);
  useEffect(() => {
    if (!stream.connected) showFlash('the engine stopped (its socket closed); q quits', 'error');
  }, [stream.connected, showFlash]);
  const quit = () => {
    props.onQuit?.();
    exit();
  };
  // The view showing sees each key first (a form takes every key), then the keys every view shares.
  const dispatch = (input: string, key: KeyPress) => {
    const current = getNav();
    if (!(key.ctrl && input === 'c') && !current.help && slots.current[current.view].current?.(input, key)) return;
    const r = navigate(current, input, key);
    if (r.quit) quit();
    else if (r.handled) setNav(r.state);
  };
  // One subscription for the whole app. Several keys in one read arrive as one string: split them.
  useInput((input, key) => {
    const plain = !(key.ctrl || key.meta || key.return || key.tab || key.backspace || key.delete || key.escape);
    if (input.length <= 1 || !plain) return dispatch(input, key);
    for (const part of splitChunk(input)) {
      const nav = getNav();
      const whole = part.input.length > 1 && !nav.help && slots.current[nav.view].current?.(part.input, part.key);
      if (whole) continue;
      if (part.input.length > 1) for (const ch of part.input) dispatch(ch, keyOf());
      else dispatch(part.input, part.key);
    }
  });

  const height = Math.max(6, rows - 3);
  const width = Math.max(40, columns);
  const openEditor = (file: string) => {
    if (!props.openEditor) return showFlash('no editor available here', 'warn');
    props.openEditor(file);
    // The editor had the screen: draw ours again in full (writing nothing redraws).
    write('');
    showFlash(`back from $EDITOR: ${file} (the engine applies saved changes)`, 'accent');
  };
  const common = (view: ViewName) => ({
    history: nav.history,
    width,
    height,
    active: nav.view === view && !nav.help,
    keys: slots.current[view],
    flash: showFlash,
    openEditor,
  });
  // Views start once patterns and recipes are known (the form's recipe picker needs them).
  const ready = patterns.data !== null && recipes.data !== null;
  const show = (view: ViewName) => (nav.view === view && !nav.help ? 'flex' : 'none');
  return (
    <ThemeContext.Provider value={theme}>
      <Box flexDirection="column" width={width} height={height + 2}>
        <TabBar view={nav.view} connected={stream.connected} width={width} history={nav.history} />
        {nav.help ? <HelpView width={width} height={height} /> : null}
        {ready ? null : (
          <Box height={height}>
            <Text color={theme.color(patterns.error ? 'error' : 'muted')}>{patterns.error ?? recipes.error ?? 'connecting to the engine…'}</Text>
          </Box>
        )}
        {ready ? (
          <>
            <Box display={show('overview')}>
              <OverviewView client={client} status={status.data} patterns={patterns.data} invalid={invalid.data ?? []} stream={stream} {...common('overview')} />
            </Box>
            <Box display={show('patterns')}>
              <PatternsView client={client} patterns={patterns.data} recipes={recipes.data} invalid={invalid.data ?? []} stream={stream} {...common('patterns')} />
            </Box>
            <Box display={show('recipes')}>
              <RecipesView recipes={recipes.data} patterns={patterns.data} {...common('recipes')} />
            </Box>
            <Box display={show('jobs')}>
              <JobsView client={client} patterns={patterns.data} jobsVersion={stream.jobsVersion} {...common('jobs')} />
            </Box>
            <Box display={show('events')}>
              <EventsView log={stream.log} {...common('events')} />
            </Box>
          </>
        ) : null}
        <StatusBar flash={flash} width={width} history={nav.history} />
      </Box>
    </ThemeContext.Provider>
  );
}
