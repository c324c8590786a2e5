import type { KeyPress } from './keys.js';
import { listMove } from './keys.js';

/** A selection in a list of `total` rows shown `height` rows at a time, from row `top`. */
export interface ListCursor {
  selected: number;
  top: number;
}

export const START: ListCursor = { selected: 0, top: 0 };

/** Keeps the selection inside the list and the window around the selection. */
export function clampCursor(c: ListCursor, total: number, height: number): ListCursor {
  const h = Math.max(1, height);
  const selected = total === 0 ? 0 : Math.min(Math.max(0, c.selected), total - 1);
  let top = Math.min(c.top, selected);
  if (selected >= top + h) top = selected - h + 1;
  top = Math.max(0, Math.min(top, Math.max(0, total - h)));
  return { selected, top };
}

/** Moves the selection by a key press; null when the key is not a movement. */
export function moveCursor(c: ListCursor, input: string, key: KeyPress, total: number, height: number): ListCursor | null {
  const move = listMove(input, key, height - 1);
  if (move === null) return null;
  const selected = move === 'start' ? 0 : move === 'end' ? total - 1 : c.selected + move;
  return clampCursor({ selected, top: c.top }, total, height);
}
