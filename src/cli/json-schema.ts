/**
 * JSON Schemas (draft-07) of pattern files and meow.yaml, for editors: with
 * the `# yaml-language-server: $schema=…` line that `meow init` writes, an
 * editor completes keys and flags mistakes as you type. They are built from
 * the parsers' own key lists and value sets (`PATTERN_KEYS`, `EVENT_KINDS`,
 * the duration and size units, …): a key the parser accepts and the schema
 * lacks does not compile (each level is a `Record` over the parser's keys),
 * and `npm run schema` writes them to `schema/`, which a test keeps equal.
 * The parser stays the judge: the schema catches typos and wrong types, not
 * everything the parser checks (placeholders, backend names, sweep sizes).
 */
import { type BACKEND_TYPES, type CONFIG_KEYS, FOLLOW_SYMLINKS, HASHES, type LOCAL_KEYS, MAX_ARRAY_SIZE, MAX_WARM_KERNELS, STATE_ACCESS, WATCH_MODES } from '../core/config-schema.js';
import { NAME_RE } from '../core/definition-fields.js';
import { DURATION_UNITS, SIZE_UNITS } from '../core/durations.js';
import { type BATCH_KEYS, type COLLECT_KEYS, type COMPLETE_KEYS, ON_TIMEOUT } from '../core/fan-in-schema.js';
import { packageRoot } from '../core/package-root.js';
import { type PATTERN_KEYS, RANGE_KEYS, type RESOURCE_KEYS, type TRIGGER_KEYS } from '../core/pattern-schema.js';
import { IDENTIFIER_RE } from '../core/placeholders.js';
import { EVENT_KINDS, PARAMETERIZE_MODES } from '../core/types.js';
import { type SLURM_KEYS } from '../runner/backends/slurm/slurm-options.js';
import { type SSH_KEYS } from '../runner/backends/ssh/ssh-options.js';
import { type SOURCE_KEYS } from '../sources/source-config.js';
import { join } from 'node:path';

/** A JSON Schema node (the subset these schemas use). */
export type JsonSchema = { [key: string]: unknown };

/** The definition files that have a schema, and the file name of each under `schema/`. */
export const SCHEMA_FILES = { pattern: 'pattern.schema.json', config: 'meow.schema.json' } as const;
export type SchemaKind = keyof typeof SCHEMA_FILES;

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** `abc` → `[aA][bB][cC]`: JSON Schema patterns have no case-insensitive flag. */
function anyCase(word: string): string {
  return [...word].map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c)).join('');
}

const byLength = (words: string[]): string[] => [...words].sort((a, b) => b.length - a.length);

const duration = (description: string): JsonSchema => ({
  description: `${description} — a duration like "250ms", "30s", "30m", "2h" or a number of seconds`,
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: `^\\s*\\d+(\\.\\d+)?\\s*(${byLength(Object.keys(DURATION_UNITS)).join('|')})?\\s*$` },
  ],
});
const size = (description: string): JsonSchema => ({
  description: `${description} — a size like "2GiB", "512MB" or a number of bytes`,
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: `^\\s*\\d+(\\.\\d+)?\\s*(${byLength(Object.keys(SIZE_UNITS)).map(anyCase).join('|')})?\\s*$` },
  ],
});
/** The schema, or null. */
function orNull(schema: JsonSchema): JsonSchema {
  const { description, anyOf, ...rest } = schema;
  return { ...(description === undefined ? {} : { description }), anyOf: [...((anyOf as JsonSchema[] | undefined) ?? [rest]), { type: 'null' }] };
}
const int = (minimum: number, description: string): JsonSchema => ({ type: 'integer', minimum, description });
const str = (description: string): JsonSchema => ({ type: 'string', description });
const bool = (description: string): JsonSchema => ({ type: 'boolean', description });
const oneOfWords = (words: readonly string[], description: string): JsonSchema => ({ enum: [...words], description });
const globs = (description: string, nonEmpty: boolean): JsonSchema => ({
  description: `${description} — a glob or a list of globs`,
  anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, ...(nonEmpty ? { minItems: 1 } : {}) }],
});
const words = (description: string): JsonSchema => ({ description, anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] });
const gpuIds: JsonSchema = { type: 'array', items: { type: 'integer', minimum: 0 } };

/** A closed mapping: exactly the parser's keys, each described. */
function closed<K extends string>(properties: Record<K, JsonSchema>, extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', properties, additionalProperties: false, ...extra };
}

const pattern = (re: RegExp): string => re.source;

function triggerSchema(): JsonSchema {
  const props: Record<(typeof TRIGGER_KEYS)[number], JsonSchema> = {
    paths: globs('the files that trigger the pattern, workspace-relative', true),
    events: {
      description: 'the event kinds that trigger (default: created, modified)',
      anyOf: [{ enum: [...EVENT_KINDS] }, { type: 'array', items: { enum: [...EVENT_KINDS] }, minItems: 1 }],
    },
    ignore: globs('files never to trigger on', false),
    settle: duration('quiet time before a file counts as written'),
  };
  return closed(props, { required: ['paths'], description: 'which file events start a job' });
}

function patternSchema(): JsonSchema {
  const range: Record<(typeof RANGE_KEYS)[number], JsonSchema> = { start: { type: 'number' }, stop: { type: 'number' }, step: { type: 'number' } };
  const resources: Record<(typeof RESOURCE_KEYS)[number], JsonSchema> = {
    cpus: int(1, 'CPU slots a job takes (default 1)'),
    gpus: int(0, 'GPUs a job takes (default 0)'),
    memory: orNull(size('memory a job takes from its backend’s memory slots')),
  };
  const complete: Record<(typeof COMPLETE_KEYS)[number], JsonSchema> = {
    count: int(1, 'the group is complete with this many members'),
    marker: str('the group is complete when this file exists, e.g. "{dir}/scan.done"'),
    quiet: duration('the group is complete after this long without a new member'),
  };
  const collect: Record<(typeof COLLECT_KEYS)[number], JsonSchema> = {
    by: str('the group key, built from placeholders of each member’s path, e.g. "{dir}"'),
    complete: closed(complete, { description: 'when a group is complete: one of count, marker, quiet' }),
    timeout: duration('an incomplete group then runs or fails (on_timeout)'),
    on_timeout: oneOfWords(ON_TIMEOUT, 'what an incomplete group does at its timeout'),
  };
  const batch: Record<(typeof BATCH_KEYS)[number], JsonSchema> = {
    max_files: int(1, 'the most files in one batch'),
    max_wait: duration('the longest a file waits for its batch'),
    by: str('batches per group key, e.g. "{dir}"'),
  };
  const props: Record<(typeof PATTERN_KEYS)[number], JsonSchema> = {
    name: { type: 'string', pattern: pattern(NAME_RE), description: 'the pattern name (default: the file name)' },
    recipe: { type: 'string', pattern: pattern(NAME_RE), description: 'the recipe to run: recipes/NAME.{ipynb,py,sh,js,mjs,yaml}' },
    trigger: triggerSchema(),
    input: { type: 'string', pattern: pattern(IDENTIFIER_RE), description: 'the variable that receives the triggering file (default input_file; input_files for collect/batch)' },
    variables: { type: 'object', propertyNames: { pattern: pattern(IDENTIFIER_RE) }, description: 'values handed to the recipe; strings may use {placeholders}' },
    sweep: {
      type: 'object',
      propertyNames: { pattern: pattern(IDENTIFIER_RE) },
      additionalProperties: { anyOf: [{ type: 'array', minItems: 1 }, closed(range, { required: [...RANGE_KEYS] })] },
      description: 'one job per point: each variable a list of values or a range {start, stop, step}',
    },
    outputs: globs('the files a job writes; they trigger further patterns', false),
    backend: { type: 'string', description: 'a backend named in meow.yaml (default local)' },
    resources: orNull(closed(resources, { description: 'what one job takes from its backend' })),
    timeout: orNull(duration('a job running longer is stopped and fails')),
    retries: int(0, 'how often a failed job runs again (default 0)'),
    loop: bool('allow the pattern to trigger on its own outputs'),
    parameterize: oneOfWords(PARAMETERIZE_MODES, 'how variables reach a notebook (default papermill)'),
    cascade_cancelled: bool('cancel the jobs that follow from a cancelled job’s outputs'),
    collect: orNull(closed(collect, { description: 'one job per complete group of files' })),
    batch: orNull(closed(batch, { description: 'one job per batch of files' })),
    inputs: globs('extra inputs a job reads, recorded in its lineage', false),
  };
  return { $schema: DRAFT, title: 'meowflow pattern (patterns/*.yaml)', ...closed(props, { required: ['recipe', 'trigger'] }) };
}

function backendSchemas(): JsonSchema[] {
  const local: Record<Exclude<(typeof LOCAL_KEYS)[number], 'type'>, JsonSchema> = {
    cpus: int(1, 'job slots (default: the top-level cpus)'),
    gpus: { description: '"auto", a number of GPUs or a list of GPU ids', anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0 }, gpuIds] },
    memory: orNull(size('memory slots jobs take their resources.memory from')),
  };
  const slurm: Record<(typeof SLURM_KEYS)[number], JsonSchema> = {
    partition: str('the Slurm partition'),
    account: str('the Slurm account'),
    sbatch_args: words('more sbatch arguments'),
    time: duration('the Slurm time limit of each job'),
    poll_interval: duration('how often squeue is asked'),
    node: str('node on the compute nodes, for JavaScript recipes'),
    array_window: duration('how long queued jobs are gathered into one job array (default 500ms)'),
    array_size: { ...int(1, 'the most jobs in one job array (default 1000)'), maximum: MAX_ARRAY_SIZE },
  };
  const ssh: Record<(typeof SSH_KEYS)[number], JsonSchema> = {
    host: str('the host to ssh to'),
    user: str('the remote user'),
    port: int(1, 'the ssh port'),
    identity: str('a private key file'),
    workdir: str('where job directories go on the host (default .meowflow)'),
    shared_fs: bool('the host sees the workspace at the same path'),
    cpus: int(1, 'job slots on the host'),
    gpus: { description: 'a number of GPUs or a list of GPU ids', anyOf: [{ type: 'integer', minimum: 0 }, gpuIds] },
    ssh_args: words('more ssh arguments, before the host'),
    node: str('node on the host, for JavaScript recipes'),
    poll_interval: duration('how often the host is asked about its jobs'),
    batch_window: duration('how long jobs are gathered into one staging and start (default 100ms)'),
  };
  const typed = (type: (typeof BACKEND_TYPES)[number], props: JsonSchema, required: string[]): JsonSchema =>
    closed({ type: { const: type }, ...props } as Record<string, JsonSchema>, { required: ['type', ...required] });
  return [
    closed({ type: { const: 'local' }, ...local } as Record<string, JsonSchema>),
    typed('slurm', slurm, []),
    typed('ssh', ssh, ['host']),
  ];
}

function configSchema(): JsonSchema {
  const source: Record<(typeof SOURCE_KEYS)[number], JsonSchema> = {
    type: { const: 'nats', description: 'the kind of source (nats)' },
    servers: words('NATS server URLs'),
    stream: str('the JetStream stream (default MEOW)'),
    subject: str('the subject prefix (default meow.files)'),
    durable: str('the durable consumer (default meow-engine)'),
    paths: globs('the announced files to accept', true),
    wait: duration('how long to wait for an announced file'),
    user: str('bus user'),
    password_env: str('environment variable holding the bus password'),
    password_file: str('file holding the bus password'),
    nkey_seed_file: str('NKey seed file'),
    creds_file: str('NATS credentials file'),
    tls_ca: str('CA certificate the bus server must chain to'),
  };
  const props: Record<(typeof CONFIG_KEYS)[number], JsonSchema> = {
    cpus: int(1, 'job slots of the local backend (default: all cores)'),
    watch: globs('what the engine watches (default: the whole workspace)', true),
    ignore: globs('never watched', false),
    watch_mode: oneOfWords(WATCH_MODES, 'native (inotify) or poll (network filesystems)'),
    poll_interval: duration('how often watch_mode: poll looks'),
    python: { description: 'the Python interpreter (null: detect one)', type: ['string', 'null'] },
    max_generation: int(1, 'stops runaway cascades (default 100)'),
    max_sweep: int(1, 'the most jobs one trigger may create (default 10000)'),
    scan_interval: duration('the periodic reconcile scan (default 60s)'),
    kill_grace: duration('SIGTERM to SIGKILL (default 2s)'),
    hash: oneOfWords(HASHES, 'how file content versions are told apart'),
    max_log_size: orNull(size('cap of each job log (default 100MiB; null: no cap)')),
    max_definition_size: size('the largest definition file read (default 1MiB)'),
    state_access: oneOfWords(STATE_ACCESS, 'who may read .meow/'),
    follow_symlinks: oneOfWords(FOLLOW_SYMLINKS, 'which symlinks the watcher follows (default inside)'),
    max_depth: int(1, 'the deepest directory watched (default 64)'),
    max_path_length: int(16, 'the longest path accepted (default 1024)'),
    warm_kernels: { ...int(0, 'idle Jupyter kernels kept ready per interpreter (default 1, 0: off)'), maximum: MAX_WARM_KERNELS },
    backends: {
      type: ['object', 'null'],
      propertyNames: { pattern: pattern(NAME_RE) },
      additionalProperties: { anyOf: [...backendSchemas(), { type: 'null' }] },
      description: 'named backends: {type: local|slurm|ssh, ...}',
    },
    sources: {
      type: ['object', 'null'],
      propertyNames: { pattern: pattern(NAME_RE) },
      additionalProperties: closed(source, { required: ['type'] }),
      description: 'event sources beyond the watched tree (a NATS bus)',
    },
  };
  return { $schema: DRAFT, title: 'meowflow workspace configuration (meow.yaml)', ...closed(props), type: ['object', 'null'] };
}

/** The JSON Schema of one kind of definition file. */
export function definitionSchema(kind: SchemaKind): JsonSchema {
  return kind === 'pattern' ? patternSchema() : configSchema();
}

/** The schema as committed under `schema/`: two-space JSON, one trailing newline. */
export function schemaText(kind: SchemaKind): string {
  return `${JSON.stringify(definitionSchema(kind), null, 2)}\n`;
}

/** Where the installed package keeps a schema. */
export function schemaPath(kind: SchemaKind): string {
  return join(packageRoot(), 'schema', SCHEMA_FILES[kind]);
}

/** The first line meow writes into a definition file it creates, so editors (yaml-language-server) find its schema. */
export function schemaModeline(kind: SchemaKind): string {
  return `# yaml-language-server: $schema=${schemaPath(kind)}\n`;
}
