import { Box, Text } from 'ink';
import { JOB_STATES, type JobCounts } from '../api/shapes.js';
import { count } from '../state/format.js';
import { stateTone, useTheme } from '../theme.js';

/** Jobs by state on one line: `queued 3  running 2  succeeded 4,102 …`. */
export function StateCounts({ counts, short = false }: { counts: JobCounts; short?: boolean }) {
  const theme = useTheme();
  return (
    <Box>
      {JOB_STATES.map((s) => (
        <Text key={s}>
          <Text color={theme.color(stateTone(s))}>{short ? s.slice(0, 4) : s}</Text>
          <Text bold>{` ${count(counts[s])}  `}</Text>
        </Text>
      ))}
    </Box>
  );
}
