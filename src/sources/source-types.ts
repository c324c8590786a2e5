/**
 * The vocabulary of remote event sources (meow.yaml `sources:`, docs/remote.md).
 * A leaf module: the core types name these without importing anything back.
 */

/**
 * How a client proves who it is to the bus. Secrets are never written in
 * meow.yaml: they are read, when connecting, from an environment variable or
 * a file named here, and never logged.
 */
export interface BusCredentials {
  /** User name for user/password authentication. @default null */
  user: string | null;
  /** Environment variable holding the password. @default null */
  passwordEnv: string | null;
  /** File holding the password (one line). @default null */
  passwordFile: string | null;
  /** File holding an NKey seed (`SU…`). @default null */
  nkeySeedFile: string | null;
  /** A `.creds` file (JWT and seed). @default null */
  credsFile: string | null;
  /** A CA certificate (PEM) the server's TLS certificate must chain to; TLS is required when set. @default null */
  tlsCa: string | null;
}

/** Where a NATS JetStream bus is and which stream carries a workspace's events. */
export interface BusAddress extends BusCredentials {
  /** Server URLs, e.g. `nats://bus.example:4222`. */
  servers: string[];
  /** The JetStream stream (one per workspace). @default "MEOW" */
  stream: string;
  /** Subject prefix: events are published on `<subject>.<host>`; the stream holds `<subject>.>`. @default "meow.files" */
  subject: string;
}

/** One remote event source of the engine: a NATS JetStream stream read through a durable consumer. */
export interface SourceConfig extends BusAddress {
  /** The source's name (its key under `sources:`). */
  name: string;
  type: 'nats';
  /** The durable consumer's name: its position survives engine restarts. @default "meow-engine" */
  durable: string;
  /** Workspace-relative globs this source may announce; any other path is refused. @default ["**"] */
  paths: string[];
  /** How long an announced file may take to appear complete (transfer or shared filesystem lag). @default 600000 (10m) */
  waitMs: number;
}

/**
 * A file event as it travels on the bus: published by `meow forward`, read by
 * the engine's source. Version 1 of the message format.
 */
export interface RemoteFileEvent {
  v: 1;
  /** Workspace-relative path. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string. */
  mtime_ns: string;
  /** Hex SHA-256 of the content, when the forwarder computed it. */
  sha256: string | null;
  /** The host the file came from. */
  host: string;
}
