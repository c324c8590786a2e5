import type { DefinitionError, FileEvent, JobRecord } from './types.js';
import type { Plan } from '../rules/planner.js';

/**
 * Typed engine events. Emitted only after the state they describe is
 * committed to the database.
 */
export interface EngineEvents {
  /** A settled file event was recorded. */
  'file:event': [event: FileEvent];
  /** A job was created (queued). */
  'job:queued': [job: JobRecord];
  /** A job attempt started. */
  'job:started': [job: JobRecord];
  /** A job reached succeeded, failed or cancelled, or was re-queued for a retry. */
  'job:finished': [job: JobRecord];
  /** A definition change was applied. */
  'rules:changed': [plan: Plan];
  /** Definitions on disk have errors (the previous versions stay registered). */
  'definitions:invalid': [errors: DefinitionError[]];
  /** The engine's database or socket was removed or replaced under it: the engine must stop (the message says what happened). */
  'state:lost': [message: string];
  /** Something the engine wants a person to know. */
  log: [level: 'info' | 'warn' | 'error', message: string];
}
export type EngineEventName = keyof EngineEvents;
