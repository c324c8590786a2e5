/**
 * The engine's side of the bus: a durable JetStream consumer per source.
 * Each message is checked (event-check.ts), its file waited for until it is
 * complete (file-arrival.ts), then handed to the engine as an observation of
 * that path — the engine settles, matches and keys it exactly as a local
 * event — and acknowledged only once the engine has committed the file's
 * state. A crash before the acknowledgement redelivers the message; the
 * engine's job key makes the second delivery run nothing.
 */
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { errorMessage } from '../core/errors.js';
import { statFile } from '../monitor/scanner.js';
import { busError, connectBus, ensureStream } from './bus-connection.js';
import { checkEvent } from './event-check.js';
import { arrival } from './file-arrival.js';
import type { WatchScope } from '../rules/scope.js';
import type { RemoteFileEvent, SourceConfig } from './source-types.js';

/** The one entry point a source uses in the engine. */
export interface SourceSink {
  /** The workspace root. */
  root: string;
  /** What the engine watches: an event outside it is refused. */
  scope: WatchScope;
  /** Something happened at this workspace-relative path (the engine's settler takes it from here). */
  observe(path: string): void;
  /** The version of the path as the engine last committed it, or null. */
  committed(path: string): string | null;
  /** A file version arrived from a host (for `meow trace`). */
  origin(path: string, version: string, host: string, source: string): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** Unacknowledged messages the engine holds at once. */
const MAX_ACK_PENDING = 2000;
/** How long the bus waits for an acknowledgement before redelivering (extended while a file is awaited). */
const ACK_WAIT_MS = 60_000;
/** How long a verified file may take to be committed by the engine (settle time included). */
const COMMIT_DEADLINE_MS = 120_000;
/**
 * How often the engine asks the bus whether its pull request is still open.
 * A pull request can be lost across a server restart without the client
 * noticing (the consumer then shows events pending and no request waiting,
 * and nothing is delivered again): two such answers in a row re-open it.
 */
const PULL_CHECK_MS = 5_000;
/** The first pause before the stream is tried again, doubled on each failure up to MAX_RETRY_MS. */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 5_000;

/** One source: owns its connection; call `close()`. */
export class NatsSource {
  private nc: NatsConnection | null = null;
  private messages: ConsumerMessages | null = null;
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly config: SourceConfig,
    private readonly sink: SourceSink,
  ) {}

  private get label(): string {
    return `source ${this.config.name}`;
  }

  /** Connects (waiting for the bus) and starts consuming in the background. */
  start(): void {
    this.loop = this.run().catch((err: unknown) => {
      if (this.closed) return;
      const message = busError(err);
      const why = message.startsWith(`${this.label}: `) ? message.slice(this.label.length + 2) : message;
      this.sink.log('error', `${this.label}: stopped: ${why}; no events come from this source until the engine is restarted`);
    });
  }

  private async run(): Promise<void> {
    const c = this.config;
    const nc = await connectBus(
      c,
      this.label,
      `meow-engine ${c.name}`,
      () => this.closed,
      (why) => this.sink.log('warn', `${this.label}: waiting for the bus at ${c.servers.join(', ')} (${why}); its events wait in the stream`),
    );
    if (nc === null) return;
    this.nc = nc;
    if (this.closed) {
      await nc.close();
      return;
    }
    this.sink.log('info', `${this.label}: connected to the bus (stream ${c.stream})`);
    void this.watchStatus(this.nc);
    let jsm: JetStreamManager | null = null;
    let pause = RETRY_MS;
    let said = '';
    // One pull subscription at a time; after a reconnect (a bus restarted, a link back) a new one is
    // opened, since the pending pull requests died with the old server connection.
    while (!this.closed) {
      try {
        // The stream is made sure of at every (re)opening: a bus restarted on an empty store, or an operator's
        // `nats stream rm`, loses it, and only the engine may create it. A bus that dies meanwhile is waited for.
        if (jsm === null) {
          jsm = await nc.jetstreamManager();
          void this.watchPull(jsm);
        }
        await ensureStream(jsm, c);
        await this.ensureConsumer(jsm);
        const consumer = await nc.jetstream().consumers.get(c.stream, c.durable);
        if (this.closed) return;
        this.messages = await consumer.consume({ max_messages: 500 });
        pause = RETRY_MS;
        said = '';
      } catch (err) {
        if (this.closed) return;
        // A bus just restarted may not serve JetStream yet, or a request died with the connection: try again,
        // saying so once per reason (a reason that stays, like missing permissions, is not repeated every second).
        const why = busError(err);
        if (why !== said) this.sink.log('warn', `${this.label}: cannot read the stream yet (${why}); retrying until it can`);
        said = why;
        await delay(pause);
        pause = Math.min(pause * 2, MAX_RETRY_MS);
        continue;
      }
      try {
        for await (const m of this.messages) {
          if (this.closed) break;
          const p = this.handle(m).catch((err: unknown) => {
            this.sink.log('error', `${this.label}: ${errorMessage(err)}; the event is delivered again`);
            m.nak(1000);
          });
          this.inflight.add(p);
          void p.finally(() => this.inflight.delete(p));
        }
      } catch (err) {
        // The subscription ended with an error (its consumer deleted on the bus, …): open a new one, creating the consumer again.
        if (this.closed) return;
        this.sink.log('warn', `${this.label}: the subscription to the stream ended (${busError(err)}); opening a new one`);
        await delay(1000);
      }
    }
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const c = this.config;
    try {
      await jsm.consumers.info(c.stream, c.durable);
    } catch {
      await jsm.consumers.add(c.stream, {
        durable_name: c.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_ack_pending: MAX_ACK_PENDING,
        filter_subject: `${c.subject}.>`,
      });
    }
  }

  /** Re-opens the pull subscription when the bus holds events for it but no request of it is waiting (see {@link PULL_CHECK_MS}). */
  private async watchPull(jsm: JetStreamManager): Promise<void> {
    const c = this.config;
    let stalled = 0;
    let watched: ConsumerMessages | null = null;
    while (!this.closed) {
      await new Promise<void>((r) => setTimeout(r, PULL_CHECK_MS).unref());
      const messages = this.messages;
      if (this.closed || !messages) continue;
      // A subscription opened since the last check starts its count afresh.
      if (messages !== watched) {
        watched = messages;
        stalled = 0;
      }
      try {
        const info = await jsm.consumers.info(c.stream, c.durable);
        stalled = info.num_waiting === 0 && info.num_pending > 0 ? stalled + 1 : 0;
        if (stalled >= 2 && messages === this.messages) {
          stalled = 0;
          this.sink.log('warn', `${this.label}: the bus holds ${info.num_pending} event(s) for this engine but no request for them is open (lost at a reconnect); reading the stream again`);
          messages.stop();
        }
      } catch (err) {
        stalled = 0;
        // The consumer or its stream is gone from the bus (deleted by an operator, a store lost): the loop makes them again.
        const gone = busError(err);
        if (/stream not found/i.test(gone) && messages === this.messages) {
          this.sink.log('warn', `${this.label}: the bus no longer has the stream ${c.stream}; creating it again (events published meanwhile were refused by the bus and wait in the forwarder's outbox)`);
          messages.stop();
        } else if (/consumer not found/i.test(gone) && messages === this.messages) {
          this.sink.log('warn', `${this.label}: the bus no longer has this engine's consumer ${c.durable}; creating it again (events still in the stream are delivered again, and run nothing twice)`);
          messages.stop();
        }
        // Otherwise the bus is away or busy: the status watcher reports it, and the next check tries again.
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.closed) return;
      if (s.type === 'disconnect') this.sink.log('warn', `${this.label}: lost the bus; reconnecting`);
      else if (s.type === 'reconnect') {
        this.sink.log('info', `${this.label}: reconnected to the bus`);
        this.messages?.stop();
      }
      else if (s.type === 'error') this.sink.log('warn', `${this.label}: ${busError(s.data)}`);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const verdict = checkEvent(m.string(), this.config.paths, this.sink.scope);
    if (!verdict.ok) {
      this.sink.log('warn', `${this.label}: refused an event (stream sequence ${m.seq}): ${verdict.reason}; nothing runs`);
      m.term();
      return;
    }
    const event = verdict.event;
    const abs = join(this.sink.root, event.path);
    const state = await this.awaitFile(m, abs, event);
    if (this.closed) return;
    if (state === null) {
      this.sink.log('error', `${this.label}: ${event.path} from ${event.host} did not arrive complete (${event.size} bytes${event.sha256 ? ', the announced sha256' : ''}) within ${this.config.waitMs} ms; no job runs on it (a later scan picks it up if it completes)`);
      m.term();
      return;
    }
    this.sink.observe(event.path);
    const version = await this.awaitCommit(m, event.path);
    if (this.closed) return;
    if (version === null) throw new Error(`${event.path}: the engine did not record it within ${COMMIT_DEADLINE_MS} ms`);
    this.sink.origin(event.path, version, event.host, this.config.name);
    await m.ackAck();
  }

  /** Waits until the file is complete (or replaced by newer content); null past the source's deadline. */
  private async awaitFile(m: JsMsg, abs: string, event: RemoteFileEvent): Promise<string | null> {
    const deadline = Date.now() + this.config.waitMs;
    let pause = 20;
    let lastWorking = Date.now();
    for (;;) {
      if (this.closed) return null;
      if ((await arrival(abs, event)) !== 'waiting') return 'arrived';
      if (Date.now() > deadline) return null;
      if (Date.now() - lastWorking > ACK_WAIT_MS / 3) {
        m.working();
        lastWorking = Date.now();
      }
      await delay(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }

  /** Waits until the engine has committed the file's current version; resolves to it, or null. */
  private async awaitCommit(m: JsMsg, path: string): Promise<string | null> {
    const deadline = Date.now() + COMMIT_DEADLINE_MS;
    let pause = 10;
    let lastWorking = Date.now();
    while (!this.closed && Date.now() < deadline) {
      const now = await statFile(join(this.sink.root, path));
      const done = this.sink.committed(path);
      if (now && done === now.version) return done;
      // Gone again before it was committed (deleted on the instrument side): nothing is left to run.
      if (!now && done === null) return 'deleted';
      if (Date.now() - lastWorking > ACK_WAIT_MS / 3) {
        m.working();
        lastWorking = Date.now();
      }
      await delay(pause);
      pause = Math.min(pause * 2, 250);
    }
    return null;
  }

  /** Stops consuming; events not yet acknowledged are redelivered to the next engine. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.messages?.stop();
      await Promise.allSettled([...this.inflight]);
      // A loop still waiting for its first connection gives up within one try.
      await this.nc?.close();
      await this.loop;
    } catch (err) {
      this.sink.log('warn', `${this.label}: closing: ${busError(err)}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
