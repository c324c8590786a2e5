import { describe, expect, it } from 'vitest';
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
