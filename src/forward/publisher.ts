/**
 * Publishing file events to the bus with JetStream deduplication: each event's
 * message id is derived from (host, workspace path, content version), so a
 * row sent again after a crash or a lost acknowledgement is dropped by the
 * bus, never delivered twice.
 */
import { createHash } from 'node:crypto';
import { headers, type JetStreamClient, type NatsConnection } from 'nats';
import { busError, connectBus, ensureStream } from '../sources/bus-connection.js';
import type { BusAddress, RemoteFileEvent } from '../sources/source-types.js';

/** The message id of one file version from one host. */
export function messageId(host: string, path: string, version: string): string {
  return createHash('sha256').update(`${host}\0${path}\0${version}`).digest('hex').slice(0, 40);
}

/** A subject token for a host name. */
export function hostToken(host: string): string {
  return host.replace(/[^A-Za-z0-9_-]/g, '_') || 'host';
}

/** The forwarder's connection; call `close()`. */
export class Publisher {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private connecting: Promise<JetStreamClient> | null = null;
  private closed = false;

  constructor(
    private readonly address: BusAddress,
    private readonly host: string,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {}

  private client(): Promise<JetStreamClient> {
    this.connecting ??= (async () => {
      const nc = await connectBus(this.address, 'meow forward', `meow-forward ${this.host}`, () => this.closed);
      if (nc === null) throw new Error('closed');
      this.nc = nc;
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'disconnect') this.log('warn', 'lost the bus; events wait in the outbox');
          else if (s.type === 'reconnect') this.log('info', 'reconnected to the bus');
        }
      })();
      try {
        await ensureStream(await nc.jetstreamManager(), this.address);
      } catch (err) {
        // A forwarder allowed only to publish cannot manage streams: the engine creates it.
        this.log('warn', `could not check the stream ${this.address.stream} (${busError(err)}); publishing anyway`);
      }
      this.js = nc.jetstream();
      return this.js;
    })().catch((err: unknown) => {
      this.connecting = null;
      throw err;
    });
    return this.connecting;
  }

  /** Publishes one event; resolves when the bus stored it (or had it already). */
  async publish(event: RemoteFileEvent, version: string): Promise<void> {
    const js = await this.client();
    const h = headers();
    h.set('Meow-Host', this.host);
    await js.publish(`${this.address.subject}.${hostToken(this.host)}`, JSON.stringify(event), {
      msgID: messageId(this.host, event.path, version),
      headers: h,
      timeout: 10_000,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = null;
    if (nc) await nc.close().catch(() => undefined);
  }
}
