/**
 * Connecting to the NATS JetStream bus, shared by the engine's source and
 * `meow forward`: credentials are read here from the environment variable or
 * file the configuration names, and never leave this module in a message.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, RetentionPolicy, StorageType, type ConnectionOptions, type JetStreamManager, type NatsConnection } from 'nats';
import { MeowError, errorMessage } from '../core/errors.js';
import type { BusAddress } from './source-types.js';

/** How long JetStream remembers a message id for deduplication. */
export const DUPLICATE_WINDOW_MS = 24 * 3600_000;

/** The connection options for an address (secrets read now). `label` names the client in errors. */
export function connectionOptions(address: BusAddress, label: string, name: string): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: address.servers,
    name,
    // A bus that is down or unreachable is waited for, for ever: the outbox and the durable consumer keep every event meanwhile.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 2,
    timeout: 5_000,
  };
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new MeowError('MEOW_USAGE', `${label}: cannot read the ${what} file ${file} (${errorMessage(err)}); check the path and its permissions`);
    }
  };
  if (address.user !== null) {
    options.user = address.user;
    if (address.passwordEnv !== null) {
      const pass = process.env[address.passwordEnv];
      if (pass === undefined || pass === '') throw new MeowError('MEOW_USAGE', `${label}: the environment variable ${address.passwordEnv} (password_env) is not set; export the bus password in it`);
      options.pass = pass;
    } else if (address.passwordFile !== null) {
      options.pass = read(address.passwordFile, 'password').replace(/\r?\n$/, '');
    }
  }
  if (address.nkeySeedFile !== null) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(read(address.nkeySeedFile, 'NKey seed').trim()));
  if (address.credsFile !== null) options.authenticator = credsAuthenticator(new TextEncoder().encode(read(address.credsFile, 'credentials')));
  if (address.tlsCa !== null) {
    read(address.tlsCa, 'TLS CA');
    options.tls = { caFile: address.tlsCa };
  }
  return options;
}

/**
 * Opens a connection. A bus that is down or unreachable is waited for (each
 * try again up to 2 s apart; `waiting` hears of it once) until `stopped()`
 * says to give up (then null);
 * a bus that refuses the credentials, or whose TLS certificate does not
 * verify, is an error at once, in words that say what to fix.
 */
export async function connectBus(
  address: BusAddress,
  label: string,
  name: string,
  stopped: () => boolean = () => false,
  waiting: (why: string) => void = () => undefined,
): Promise<NatsConnection | null> {
  const options = connectionOptions(address, label, name);
  let pause = 100;
  let said = false;
  while (!stopped()) {
    try {
      // Only the first connection is made here, try by try; reconnects after it are the client's own.
      return await connect({ ...options, waitOnFirstConnect: false });
    } catch (err) {
      const problem = permanentProblem(err, address);
      if (problem !== null) throw new MeowError('MEOW_USAGE', `${label}: ${problem}`);
      // Said once: a bus that is down is waited for, quietly after that.
      if (!said) waiting(busError(err));
      said = true;
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 2000);
  }
  return null;
}

/** Node's codes for a certificate that does not verify. */
const CERT_CODE_RE = /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED/;

/** What to fix when a first connection can never succeed as configured; null for a bus that may yet come up. */
export function permanentProblem(err: unknown, address: BusAddress): string | null {
  const code = String((err as { code?: unknown }).code ?? '');
  const why = `${busError(err)}${code && !busError(err).includes(code) ? ` (${code})` : ''}`;
  if (/AUTHORIZATION_VIOLATION|AUTHENTICATION_EXPIRED|AUTHENTICATION_TIMEOUT|PERMISSIONS_VIOLATION/.test(code) || /authorization violation/i.test(why)) {
    return `the bus refused the connection: ${why}; check the credentials (user with password_env or password_file, nkey_seed_file, or creds_file; --user, --password-env, --nkey-seed-file … for meow forward) against the server's authorization`;
  }
  if (CERT_CODE_RE.test(code)) {
    const ca = address.tlsCa === null ? "the system's CA certificates (tls_ca is not set)" : `the CA in ${address.tlsCa} (tls_ca, --tls-ca)`;
    return `the bus's TLS certificate does not verify against ${ca}: ${why}; name in tls_ca (--tls-ca) the CA that signed the server's certificate, and connect by a name the certificate holds`;
  }
  if (code === 'SERVER_OPT_NA' && address.tlsCa !== null) {
    return `tls_ca (${address.tlsCa}) asks for TLS but the bus does not offer it: enable TLS on the server, or remove tls_ca`;
  }
  return null;
}

/**
 * Makes sure the workspace's stream exists: file storage, a long duplicate
 * window, the address's subjects. An existing stream is left as it is.
 */
export async function ensureStream(jsm: JetStreamManager, address: BusAddress): Promise<void> {
  try {
    await jsm.streams.info(address.stream);
    return;
  } catch (err) {
    if (!/stream not found/i.test(errorMessage(err))) throw err;
  }
  try {
    await jsm.streams.add({
      name: address.stream,
      subjects: [`${address.subject}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
    });
  } catch (err) {
    // Another client created it at the same moment.
    if (!/already in use|already exists/i.test(errorMessage(err))) throw err;
  }
}

/** A bus error in words that never include credentials (server URLs carry none: the config refuses them). */
export function busError(err: unknown): string {
  return errorMessage(err).replace(/(pass(word)?|seed|token)\s*[=:]\s*\S+/gi, '$1=<hidden>');
}
