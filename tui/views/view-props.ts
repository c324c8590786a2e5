import type { KeyPress } from '../state/keys.js';
import type { Tone } from '../theme.js';

/** Handles a key press; true when the view used it (the app's keys then skip it). */
export type KeyHandler = (input: string, key: KeyPress) => boolean;

/**
 * Where a view puts its key handler. The view assigns it while it renders, so
 * a key arriving right after a render already reaches the new handler (a
 * `useInput` subscription would only follow after React's passive effects).
 */
export interface KeySlot {
  current: KeyHandler | null;
}

/** What every view gets from the app. */
export interface ViewProps {
  width: number;
  height: number;
  /** False while another view shows or help covers this one: it stops polling. */
  active: boolean;
  /** The view's key handler goes here; it sees each key before the app's keys. */
  keys: KeySlot;
  /** True: superseded failures and cancellations are shown too (`h`); false: only current ones. */
  history: boolean;
  /** Shows a message in the status bar for a few seconds. */
  flash(text: string, tone?: Tone): void;
  /** Opens a workspace-relative file in $EDITOR. */
  openEditor(file: string): void;
}
