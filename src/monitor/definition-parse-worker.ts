/*
 * Parses one large definition file off the engine's main thread (see
 * `parseOffThread` in definitions-reader.ts): YAML parsing costs about a second
 * per MiB, and the engine's event loop must not wait that long. The result
 * crosses back as exact JSON text, so exact numbers stay exact.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { stateJson } from '../core/exact-json.js';
import { parsePattern, type PatternParseOptions } from '../core/pattern-schema.js';
import { parseRecipe } from '../core/recipe-schema.js';

/** What the worker is given. */
export interface ParseJob {
  kind: 'pattern' | 'recipe';
  file: string;
  text: string;
  opts: PatternParseOptions;
}

const job = workerData as ParseJob;
const result = job.kind === 'pattern' ? parsePattern(job.file, job.text, job.opts) : parseRecipe(job.file, job.text);
parentPort?.postMessage(stateJson(result));
