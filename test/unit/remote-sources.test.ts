import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox, processStart } from '../../src/forward/outbox.js';
import { permanentProblem } from '../../src/sources/bus-connection.js';
import { parseConfig } from '../../src/core/config-schema.js';
import { watchScope } from '../../src/rules/scope.js';
import { checkEvent, pathProblem } from '../../src/sources/event-check.js';

const scope = watchScope({ watch: ['**'], ignore: ['**/*.tmp'] });
const event = (path: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ v: 1, path, size: 3, mtime_ns: '1700000000000000000', sha256: null, host: 'inst-1', ...extra });

describe('remote event checks', () => {
  it('accepts a well-formed event inside the globs', () => {
    const v = checkEvent(event('incoming/a.dat'), ['incoming/**'], scope);
    expect(v).toEqual({ ok: true, event: { v: 1, path: 'incoming/a.dat', size: 3, mtime_ns: '1700000000000000000', sha256: null, host: 'inst-1' } });
  });

  it.each([
    ['../../etc/passwd', 'outside the workspace'],
    ['incoming/../../etc/passwd', 'outside the workspace'],
    ['/etc/passwd', 'absolute'],
    ['incoming//a.dat', 'not a normalised'],
    ['./incoming/a.dat', 'not a normalised'],
    ['incoming/a\0.dat', 'NUL'],
    ['other/a.dat', 'outside the globs'],
    ['incoming/a.tmp', 'not watched'],
  ])('refuses %j (%s)', (path, why) => {
    const v = checkEvent(event(path), ['incoming/**'], scope);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toContain(why);
  });

  it('refuses paths into engine state and definitions even when the globs allow everything', () => {
    for (const p of ['.meow/state.db', 'patterns/evil.yaml', 'recipes/evil.sh', 'meow.yaml']) {
      expect(checkEvent(event(p), ['**'], scope).ok, p).toBe(false);
    }
  });

  it('shows at most 200 characters of a refused value, so a sender cannot flood the log', () => {
    const outside = checkEvent(event(`other/${'a'.repeat(200_000)}`), ['incoming/**'], scope);
    expect(outside.ok).toBe(false);
    if (!outside.ok) {
      expect(outside.reason.length).toBeLessThan(400);
      expect(outside.reason).toMatch(/^path "other\/a+… \(200008 characters\) is longer than 4096 characters$/);
    }
    const version = checkEvent(event('a.dat', { v: 'x'.repeat(10_000) }), ['**'], scope);
    expect(!version.ok && version.reason.length < 400).toBe(true);
    // A short path is shown whole, as before.
    expect(checkEvent(event('other/x.dat'), ['incoming/**'], scope)).toEqual({ ok: false, reason: 'path "other/x.dat" is outside the globs this source may write (incoming/**)' });
  });

  it('refuses malformed messages with a reason', () => {
    expect(checkEvent('not json', ['**'], scope)).toEqual({ ok: false, reason: 'the message is not JSON' });
    expect(checkEvent(event('a.dat', { v: 2 }), ['**'], scope).ok).toBe(false);
    expect(checkEvent(event('a.dat', { size: -1 }), ['**'], scope).ok).toBe(false);
    expect(checkEvent(event('a.dat', { mtime_ns: 'x' }), ['**'], scope).ok).toBe(false);
    expect(checkEvent(event('a.dat', { sha256: 'abc' }), ['**'], scope).ok).toBe(false);
    expect(checkEvent(event('a.dat', { host: 'a b' }), ['**'], scope).ok).toBe(false);
    expect(pathProblem('a\\b')).toContain('backslash');
  });
});

describe('sources: in meow.yaml', () => {
  const errors = (text: string) => parseConfig('/ws', text, 2).errors.map((e) => `${e.key} | ${e.message}`);

  it('reads a source with its defaults', () => {
    const { config, errors: errs } = parseConfig('/ws', 'sources:\n  beam:\n    type: nats\n    servers: nats://bus:4222\n    user: engine\n    password_env: BUS_PW\n    tls_ca: /etc/ca.pem\n', 2);
    expect(errs).toEqual([]);
    expect(config.sources).toEqual([
      { name: 'beam', type: 'nats', servers: ['nats://bus:4222'], stream: 'MEOW', subject: 'meow.files', durable: 'meow-engine', paths: ['**'], waitMs: 600_000, user: 'engine', passwordEnv: 'BUS_PW', passwordFile: null, nkeySeedFile: null, credsFile: null, tlsCa: '/etc/ca.pem' },
    ]);
  });

  it('leaves sources out of a config without them', () => {
    expect(parseConfig('/ws', 'cpus: 2\n', 2).config.sources).toBeUndefined();
  });

  it('names the key and the fix for bad sources', () => {
    expect(errors('sources:\n  beam:\n    type: kafka\n    servers: nats://bus:4222\n')).toEqual(['sources.beam.type | expected "nats" (the only kind of source), got the string "kafka"']);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://u:p@bus:4222\n')[0]).toMatch(/^sources\.beam\.servers \| .*without credentials/);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://bus\n    user: e\n    password: hunter2\n')[0]).toMatch(/sources\.beam\.password \| passwords are not written in meow.yaml/);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://bus\n    password_env: PW\n')).toEqual(['sources.beam.user | missing: a password needs the user it belongs to']);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://bus\n    stream: a.b\n')[0]).toMatch(/sources\.beam\.stream/);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://bus\n    paths: ../x\n')[0]).toMatch(/sources\.beam\.paths/);
    expect(errors('sources:\n  beam:\n    type: nats\n    servers: nats://bus\n    user: u\n    nkey_seed_file: /s\n')[0]).toMatch(/one way to authenticate/);
  });
});

describe('connecting to the bus', () => {
  const address = { servers: ['tls://bus:4222'], stream: 'MEOW', subject: 'meow.files', user: null, passwordEnv: null, passwordFile: null, nkeySeedFile: '/k/engine.nk', credsFile: null, tlsCa: '/k/ca.pem' };
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('gives up at once, saying what to fix, on refused credentials or a certificate that does not verify', () => {
    expect(permanentProblem(err('AUTHORIZATION_VIOLATION', "'Authorization Violation'"), address)).toMatch(/^the bus refused the connection: 'Authorization Violation' \(AUTHORIZATION_VIOLATION\); check the credentials/);
    expect(permanentProblem(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), address)).toBe(
      "the bus's TLS certificate does not verify against the CA in /k/ca.pem (tls_ca, --tls-ca): unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); name in tls_ca (--tls-ca) the CA that signed the server's certificate, and connect by a name the certificate holds",
    );
    expect(permanentProblem(err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), { ...address, tlsCa: null })).toMatch(/against the system's CA certificates \(tls_ca is not set\)/);
    expect(permanentProblem(err('SERVER_OPT_NA', 'tls'), address)).toMatch(/^tls_ca \(\/k\/ca\.pem\) asks for TLS but the bus does not offer it/);
  });

  it('keeps waiting for a bus that is down or unreachable', () => {
    expect(permanentProblem(err('CONNECTION_REFUSED', 'connect ECONNREFUSED 10.0.0.1:4222'), address)).toBeNull();
    expect(permanentProblem(err('TIMEOUT', 'TIMEOUT'), address)).toBeNull();
  });
});

describe('the outbox knows whether its forwarder runs', () => {
  it('names the running forwarder, and not a dead one or another process that got its pid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meow-outbox-'));
    const outbox = new Outbox(join(dir, 'outbox.db'));
    try {
      expect(processStart(process.pid)).toMatch(/^\d+$/);
      outbox.claim(process.pid);
      expect(outbox.status().pid).toBe(process.pid);
      // The same pid, started at another time: a process that reused a dead forwarder's pid.
      outbox.set('pid_start', String(Number(processStart(process.pid)) + 1));
      expect(outbox.status().pid).toBeNull();
      outbox.claim(null);
      expect(outbox.status().pid).toBeNull();
      // A pid no process has (above the kernel's pid_max).
      outbox.set('pid', String(2 ** 22 + 1));
      expect(outbox.status().pid).toBeNull();
    } finally {
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
