import { Box, Text } from 'ink';
import { VIEWS, type ViewName } from '../state/navigation.js';
import { useTheme } from '../theme.js';

/** The top line: the views with their number keys, whether history shows, and whether the engine answers. */
export function TabBar({ view, connected, width, history }: { view: ViewName; connected: boolean; width: number; history: boolean }) {
  const theme = useTheme();
  const compact = width < 72;
  return (
    <Box width={width} justifyContent="space-between">
      <Box>
        <Text bold color={theme.color('accent')}>
          {compact ? 'meow ' : ' meowflow '}
        </Text>
        {VIEWS.map((v, i) => {
          const label = compact ? `${i + 1}${v.title.slice(0, 3)}` : `${i + 1} ${v.title}`;
          return v.name === view ? (
            <Text key={v.name} inverse bold>
              {` ${label} `}
            </Text>
          ) : (
            <Text key={v.name} color={theme.color('muted')}>{` ${label} `}</Text>
          );
        })}
      </Box>
      <Text>
        {history ? <Text color={theme.color('warn')}>{compact ? 'hist ' : 'history '}</Text> : null}
        <Text color={theme.color(connected ? 'ok' : 'error')}>{connected ? '● live ' : '○ engine gone '}</Text>
      </Text>
    </Box>
  );
}
