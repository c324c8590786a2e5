/**
 * The engine beside its peers (Watchman triggers, inotifywait + spawn) and
 * raw spawn, on the same bash workload and the same latency probe, in rounds
 * that interleave the contenders so that each shares the machine's load.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawSpawn } from './baselines.js';
import { PEER_TITLE, peerMissing, peerThroughput, readStamp, startPeer, wallNow, type Peer, type PeerName } from './peers.js';
import { median, now, quantile, round } from './stats.js';
import { writeFiles } from './workspace.js';
import type { EngineProbe } from './probe.js';
import type { Detail, WorkloadContext } from './types.js';

const PEERS: readonly PeerName[] = ['watchman', 'inotifywait'];

/** The peers that run here, started; the others skipped (an error under --require-peers). */
export async function startPeers(ctx: WorkloadContext, base: string, recipe: string, concurrency: number): Promise<{ peers: Peer[]; skipped: Map<PeerName, string> }> {
  const peers: Peer[] = [];
  const skipped = new Map<PeerName, string>();
  try {
    for (const name of PEERS) {
      const why = peerMissing(name);
      if (why && ctx.requirePeers) throw new Error(`${why}; --require-peers makes a missing peer an error`);
      if (why) {
        skipped.set(name, `skipped: ${why}`);
        ctx.log(`${PEER_TITLE[name]}: skipped: ${why}`);
      } else peers.push(await startPeer(name, { base: join(base, name), recipe, concurrency }));
    }
  } catch (err) {
    await closePeers(peers);
    throw err;
  }
  return { peers, skipped };
}

export async function closePeers(peers: readonly Peer[]): Promise<void> {
  for (const p of peers) await p.close();
}

/** Rotates `xs` left by `k`: round k starts with a different contender. */
const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]);

/** A detail row for a skipped peer. */
function skippedRow(metric: string, value: number, unit: string, target: string, note: string): Detail {
  return { metric, value, unit, baseline: null, target, pass: null, note };
}

export interface ThroughputOptions {
  /** A live engine whose pattern runs the recipe for `${dir}/*.txt`. */
  probe: EngineProbe;
  root: string;
  dir: string;
  /** The recipe file the engine runs (the same text for everyone). */
  recipe: string;
  base: string;
  files: number;
  rounds: number;
  concurrency: number;
}

/**
 * Files per second from the first write until the last run ended, for the
 * live engine, each peer, and raw spawn (files already there, no watching),
 * medians over `rounds` interleaved rounds. Details: the engine beside each.
 */
export async function throughputBesidePeers(ctx: WorkloadContext, o: ThroughputOptions): Promise<{ details: Detail[]; engine: number }> {
  const rawInputs = Array.from({ length: o.files }, (_, i) => `raw/f${i}.txt`);
  await writeFiles(o.base, rawInputs);
  const { peers, skipped } = await startPeers(ctx, join(o.base, 'peers'), o.recipe, o.concurrency);
  const rates = new Map<string, number[]>();
  const add = (who: string, rate: number) => rates.set(who, [...(rates.get(who) ?? []), rate]);
  const timeoutMs = 300_000;
  let succeeded = o.probe.succeeded;
  try {
    for (let r = 0; r < o.rounds; r++) {
      const names = Array.from({ length: o.files }, (_, i) => `r${r}-f${i}.txt`);
      for (const who of rotate(['raw', 'engine', ...peers.map((p) => p.name)], r)) {
        if (who === 'raw') add(who, await rawSpawn(o.recipe, rawInputs.map((p) => join(o.base, p)), o.concurrency, o.base));
        else if (who === 'engine') {
          const t0 = now();
          await writeFiles(o.root, names.map((n) => `${o.dir}/${n}`));
          await o.probe.untilSucceeded((succeeded += o.files), timeoutMs);
          add(who, o.files / ((o.probe.lastSucceededAt - t0) / 1000));
        } else {
          const peer = peers.find((p) => p.name === who) as Peer;
          const { perSecond, runs } = await peerThroughput(peer, names, timeoutMs, writeFiles);
          if (runs !== o.files) ctx.log(`${PEER_TITLE[peer.name]} ran the recipe ${runs} times for ${o.files} files`);
          add(who, perSecond);
        }
      }
      ctx.log(`round ${r + 1}: ${[...rates].map(([who, v]) => `${who} ${round(v[r])}`).join(', ')} files/s`);
    }
  } finally {
    await closePeers(peers);
  }
  const m = (who: string) => median(rates.get(who) ?? []);
  const engine = m('engine');
  const raw = m('raw');
  const each = `${o.concurrency} at a time, median of ${o.rounds} interleaved round(s)`;
  ctx.log(`medians: live engine ${round(engine)}, raw spawn ${round(raw)}${peers.map((p) => `, ${PEER_TITLE[p.name]} ${round(m(p.name))}`).join('')} files/s (${each})`);
  const details: Detail[] = [{ metric: `live engine (files written while watched) beside raw spawn, ${each}`, value: engine, unit: 'jobs/s', baseline: raw, target: '≥ 0.8× baseline', pass: engine >= 0.8 * raw }];
  for (const name of PEERS) {
    const metric = `live engine beside ${PEER_TITLE[name]} (same files, recipe and concurrency)`;
    const target = name === 'watchman' ? '≥ 1.0× baseline' : '';
    const note = skipped.get(name);
    if (note) details.push(skippedRow(metric, engine, 'jobs/s', target, note));
    else details.push({ metric, value: engine, unit: 'jobs/s', baseline: m(name), target, pass: target ? engine >= m(name) : null });
  }
  return { details, engine };
}

export interface LatencyOptions {
  /** A live engine whose pattern runs the stamp recipe for `${dir}/*.txt`. */
  probe: EngineProbe;
  root: string;
  dir: string;
  /** The stamp recipe (peers.stampRecipe) and its stamp directory. */
  recipe: string;
  stamps: string;
  base: string;
  samples: number;
  warmup: number;
  concurrency: number;
}

/**
 * One file at a time, the contenders in turn: the time from just before the
 * write until the recipe's bash process recorded its start. Details: the
 * engine's p50 and p99 beside each peer's.
 */
export async function latencyBesidePeers(ctx: WorkloadContext, o: LatencyOptions): Promise<Detail[]> {
  const { peers, skipped } = await startPeers(ctx, join(o.base, 'peers'), o.recipe, o.concurrency);
  const ms = new Map<string, number[]>();
  let succeeded = o.probe.succeeded;
  try {
    for (let i = 0; i < o.samples + o.warmup; i++) {
      for (const who of rotate(['engine', ...peers.map((p) => p.name)], i)) {
        const name = `${who}-${i}.txt`;
        const file = who === 'engine' ? join(o.root, o.dir, name) : join((peers.find((p) => p.name === who) as Peer).dir, name);
        const t0 = wallNow();
        await writeFile(file, `${i}\n`);
        const started = await readStamp(o.stamps, name, 30_000);
        if (who === 'engine') await o.probe.untilSucceeded(++succeeded, 30_000);
        if (i >= o.warmup) ms.set(who, [...(ms.get(who) ?? []), started - t0]);
      }
    }
  } finally {
    await closePeers(peers);
  }
  for (const p of peers) {
    const failed = p.progress().failed;
    if (failed) throw new Error(`${PEER_TITLE[p.name]}: ${failed} run(s) of the stamp recipe failed: ${p.errors()}`);
  }
  const q = (who: string, x: number) => quantile(ms.get(who) ?? [], x);
  const [e50, e99] = [q('engine', 0.5), q('engine', 0.99)];
  ctx.log(`bash recipe, file written → process started: engine p50 ${round(e50)} ms, p99 ${round(e99)} ms${peers.map((p) => `; ${PEER_TITLE[p.name]} p50 ${round(q(p.name, 0.5))} ms, p99 ${round(q(p.name, 0.99))} ms`).join('')}`);
  const details: Detail[] = [];
  for (const name of [...PEERS].reverse()) {
    const note = skipped.get(name);
    const beside = `beside ${PEER_TITLE[name]}`;
    const target = name === 'inotifywait' ? '≤ baseline + 3 ms' : '';
    if (note) {
      details.push(skippedRow(`bash recipe: file → process started, p50, ${beside}`, e50, 'ms', target, note));
      details.push(skippedRow(`bash recipe: file → process started, p99, ${beside}`, e99, 'ms', '', note));
      continue;
    }
    const [b50, b99] = [q(name, 0.5), q(name, 0.99)];
    details.push({ metric: `bash recipe: file → process started, p50, ${beside}`, value: e50, unit: 'ms', baseline: b50, target, pass: target ? e50 <= b50 + 3 : null });
    details.push({ metric: `bash recipe: file → process started, p99, ${beside}`, value: e99, unit: 'ms', baseline: b99, target: '', pass: null });
  }
  return details;
}
