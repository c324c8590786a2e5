import { Box, Text } from 'ink';
import { truncate } from '../state/format.js';
import { useTheme, type Tone } from '../theme.js';

/** A short message shown in the status bar for a few seconds. */
export interface Flash {
  text: string;
  tone: Tone;
}

/** The bottom line: the latest message, or the keys every view shares. */
export function StatusBar({ flash, width, history }: { flash: Flash | null; width: number; history: boolean }) {
  const theme = useTheme();
  if (flash) {
    return (
      <Box width={width}>
        <Text color={theme.color(flash.tone)} wrap="truncate-end">
          {truncate(flash.text, width)}
        </Text>
      </Box>
    );
  }
  return (
    <Box width={width}>
      <Text color={theme.color('muted')} wrap="truncate-end">
        {truncate(`[1-5] [Tab] views  [h] ${history ? 'current only' : 'history'}  [?] help  [q] quit`, width)}
      </Text>
    </Box>
  );
}
