import { createContext, useContext } from 'react';
import type { JobStatus } from './api/shapes.js';

/** What a piece of text means; the theme turns it into a colour (or none). */
export type Tone = 'accent' | 'muted' | 'ok' | 'warn' | 'error' | 'active';

const COLORS: Record<Tone, string> = { accent: 'cyan', muted: 'gray', ok: 'green', warn: 'yellow', error: 'red', active: 'blue' };

/** Colours for tones; with NO_COLOR every colour is undefined (plain text). */
export interface Theme {
  noColor: boolean;
  color(tone: Tone): string | undefined;
}

export function makeTheme(noColor: boolean): Theme {
  return { noColor, color: (tone) => (noColor ? undefined : COLORS[tone]) };
}

/** True when NO_COLOR is set to anything but the empty string (no-color.org). */
export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

export const ThemeContext = createContext<Theme>(makeTheme(false));

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

/** The tone of a job state. */
export function stateTone(status: JobStatus): Tone {
  switch (status) {
    case 'queued':
      return 'muted';
    case 'running':
      return 'active';
    case 'succeeded':
      return 'ok';
    case 'failed':
      return 'error';
    case 'cancelled':
      return 'warn';
    default: {
      const never: never = status;
      return never;
    }
  }
}
