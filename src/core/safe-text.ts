/**
 * Text from outside (file names above all) on its way into a log line or a
 * terminal. A file name may hold a newline, a carriage return or an escape
 * sequence: printed raw, it would split a log line (and so could forge a
 * `succeeded` line) or drive the terminal. Those characters are shown
 * escaped instead: `\n`, `\r`, `\t`, `\x1b`, `\u2028`.
 */

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- these are the characters it escapes
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every control character written as an escape, so it stays one visible line. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    const cp = ch.charCodeAt(0);
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

