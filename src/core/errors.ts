/**
 * Errors carry a stable `code`; across threads and processes they are told
 * apart by that code, never by `instanceof`.
 */
export const ERROR_CODES = [
  'MEOW_PATTERN_INVALID',
  'MEOW_RECIPE_INVALID',
  'MEOW_CONFIG_INVALID',
  'MEOW_USAGE',
  'MEOW_NOT_FOUND',
  'MEOW_CONFLICT',
  'MEOW_DB_NEWER',
  'MEOW_STATE',
  'MEOW_ENGINE_RUNNING',
  'MEOW_ENGINE_UNREACHABLE',
  'MEOW_STATE_LOST',
  'MEOW_JOB_FAILED',
  'MEOW_PYTHON_MISSING',
  'MEOW_BACKEND',
  'MEOW_ILLEGAL_TRANSITION',
  'MEOW_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error with a stable code. Messages name the place, the problem and the fix. */
export class MeowError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeowError';
    this.code = code;
  }
}

/** The code of any thrown value, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** A one-line message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
