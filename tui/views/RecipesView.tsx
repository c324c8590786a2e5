import { Box, Text } from 'ink';
import { useSyncState } from '../hooks/use-sync-state.js';
import { KeyHints } from '../components/KeyHints.js';
import { cell, truncate } from '../state/format.js';
import { clampCursor, moveCursor, START } from '../state/list-window.js';
import { useTheme } from '../theme.js';
import type { PatternJson, RecipeJson } from '../api/shapes.js';
import type { ViewProps } from './view-props.js';

/** Recipes: name, kind, file, and the patterns that use each. `E` opens one in $EDITOR. */
export function RecipesView(props: ViewProps & { recipes: RecipeJson[] | null; patterns: PatternJson[] | null }) {
  const { width, height } = props;
  const theme = useTheme();
  const recipes = props.recipes ?? [];
  const [cursor, setCursor, getCursor] = useSyncState(START);
  const listHeight = Math.max(1, height - 3);
  const at = clampCursor(cursor, recipes.length, listHeight);
  const users = (name: string) => (props.patterns ?? []).filter((p) => p.recipe === name).map((p) => p.name);
  props.keys.current = (input, key) => {
    const c = clampCursor(getCursor(), recipes.length, listHeight);
    const moved = moveCursor(c, input, key, recipes.length, listHeight);
    if (moved) setCursor(moved);
    else if (input === 'E' && recipes[c.selected]) props.openEditor(recipes[c.selected].file);
    else return false;
    return true;
  };
  const nameW = Math.max(8, Math.floor(width * 0.2));
  const fileW = Math.max(10, Math.floor(width * 0.3));
  const usedW = Math.max(8, width - nameW - fileW - 16);
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold>{`  ${cell('NAME', nameW)} ${cell('KIND', 10)} ${cell('FILE', fileW)} USED BY`}</Text>
      {recipes.slice(at.top, at.top + listHeight).map((r, i) => {
        const selected = at.top + i === at.selected;
        const used = users(r.name);
        return (
          <Text key={r.name} inverse={selected} wrap="truncate-end">
            {`${selected ? '›' : ' '} ${cell(r.name, nameW)} ${cell(r.kind, 10)} ${cell(r.file, fileW)} `}
            {used.length ? truncate(used.join(', '), usedW) : <Text color={theme.color('muted')}>no pattern</Text>}
          </Text>
        );
      })}
      {recipes.length === 0 ? <Text color={theme.color('muted')}>  no recipes: add a file under recipes/</Text> : null}
      <Box flexGrow={1} />
      <KeyHints width={width} hints={[['↑/↓', 'select'], ['E', 'open in $EDITOR']]} />
    </Box>
  );
}
