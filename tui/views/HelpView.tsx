import { Box, Text } from 'ink';
import { truncate } from '../state/format.js';
import { useTheme } from '../theme.js';

/** Every key, by view. Any key closes it. */
export const HELP: readonly (readonly [string, readonly (readonly [string, string])[]])[] = [
  ['Everywhere', [['1-5 Tab S-Tab', 'switch view'], ['h', 'history: superseded failures too'], ['?', 'this help'], ['q Ctrl-C', 'quit']]],
  ['Lists', [['↑↓ j k', 'move'], ['PgUp PgDn', 'page'], ['g G Home End', 'first/last']]],
  ['Patterns', [['n', 'new pattern'], ['e Enter', 'edit in the form'], ['d', 'delete'], ['E', '$EDITOR'], ['space', 'pause/resume']]],
  ['Form', [['↑↓ Tab', 'field'], ['Enter', 'next / review'], ['←→', 'recipe, event'], ['space', 'toggle event'], ['Ctrl-U', 'clear'], ['Ctrl-D', 'drop variable'], ['Esc', 'cancel']]],
  ['Plan', [['y', 'apply'], ['n Esc', 'back']]],
  ['Recipes', [['E', '$EDITOR']]],
  ['Jobs', [['s', 'state filter'], ['p', 'pattern filter'], ['/', 'search input path'], ['x', 'clear filters'], ['Enter', 'detail'], ['c', 'cancel (asks: y/n)'], ['r', 'retry'], ['l', 'stdout/stderr']]],
  ['Events', [['space p', 'pause/resume'], ['f', 'filter'], ['↑↓', 'scroll when paused']]],
];

/** Items joined by two spaces, in lines of at most `width`. */
function wrapItems(items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  for (const item of items) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 2 + item.length <= width) lines[lines.length - 1] = `${last}  ${item}`;
    else lines.push(item);
  }
  return lines;
}

export function HelpView({ width, height }: { width: number; height: number }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold color={theme.color('accent')}>
        Keys — any key closes this help
      </Text>
      {HELP.flatMap(([section, keys]) =>
        wrapItems(keys.map(([k, what]) => `${k}: ${what}`), Math.max(20, width - 12)).map((line, i) => (
          <Text key={`${section}${i}`} wrap="truncate-end">
            <Text bold>{(i === 0 ? section : '').padEnd(11)}</Text>
            {` ${truncate(line, width - 12)}`}
          </Text>
        )),
      )}
    </Box>
  );
}
