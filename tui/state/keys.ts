/**
 * A key press as the reducers see it: ink's `Key` has these fields (and
 * more), so handlers pass it straight through, and tests build one with
 * `keyOf`.
 */
export interface KeyPress {
  upArrow: boolean;
  downArrow: boolean;
  leftArrow: boolean;
  rightArrow: boolean;
  pageUp: boolean;
  pageDown: boolean;
  home: boolean;
  end: boolean;
  return: boolean;
  escape: boolean;
  ctrl: boolean;
  shift: boolean;
  tab: boolean;
  backspace: boolean;
  delete: boolean;
  meta: boolean;
}

const NONE: KeyPress = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageUp: false,
  pageDown: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
};

/** A key press with the given flags set. */
export function keyOf(flags: Partial<KeyPress> = {}): KeyPress {
  return { ...NONE, ...flags };
}

/** Typed text: printable input without ctrl/meta (a paste arrives as one string). */
export function typedText(input: string, key: KeyPress): string {
  if (key.ctrl || key.meta || key.return || key.tab || key.escape) return '';
  // eslint-disable-next-line no-control-regex
  return input.replace(/[\u0000-\u001f\u007f]/g, '');
}

/** Up/down movement of a list selection: arrows, k/j, PgUp/PgDn (a page), Home/End (g/G). */
export function listMove(input: string, key: KeyPress, page: number): number | 'start' | 'end' | null {
  if (key.upArrow || input === 'k') return -1;
  if (key.downArrow || input === 'j') return 1;
  if (key.pageUp) return -Math.max(1, page);
  if (key.pageDown) return Math.max(1, page);
  if (key.home || input === 'g') return 'start';
  if (key.end || input === 'G') return 'end';
  return null;
}

const CONTROL: Record<string, Partial<KeyPress>> = { '\r': { return: true }, '\n': { return: true }, '\t': { tab: true }, '\x7f': { backspace: true }, '\b': { backspace: true } };

/**
 * Splits input that arrived in one read (a paste, or keys typed faster than
 * the terminal link delivers them, as over SSH) into runs of printable text
 * and single control keys: `"ab\rc"` is `ab`, Enter, `c`. A text field takes a
 * run whole; elsewhere each character of it is a key of its own.
 */
export function splitChunk(input: string): { input: string; key: KeyPress }[] {
  const out: { input: string; key: KeyPress }[] = [];
  let run = '';
  const flush = () => {
    if (run) out.push({ input: run, key: keyOf() });
    run = '';
  };
  for (const ch of input) {
    const code = ch.charCodeAt(0);
    if (CONTROL[ch]) {
      flush();
      out.push({ input: '', key: keyOf(CONTROL[ch]) });
    } else if (code < 0x20) {
      flush();
      out.push({ input: String.fromCharCode(code + 0x60), key: keyOf({ ctrl: true }) });
    } else run += ch;
  }
  flush();
  return out;
}
