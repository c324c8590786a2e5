#!/usr/bin/env node
/*
 * A simulated instrument for the steering example: it watches requests/ and
 * answers each request with a noisy measurement in measurements/.
 *
 *   requests/007.json      {"focus": 4.12}
 *   measurements/007.json  {"request": "requests/007.json", "focus": 4.12, "intensity": 1013.7, …}
 *
 * The response is a focus scan: the intensity on the detector peaks at the
 * best focus (RESPONSE.optimum), on a flat background, with Gaussian noise.
 * The noise of request N depends only on the seed and N, so a run is
 * reproducible. The instrument stops when result.json appears (the analysis
 * has converged), or on Ctrl-C.
 *
 *   node instrument.mjs [--workspace DIR] [--seed N] [--noise 0.02] [--exposure 50] [--once]
 *
 * Files appear atomically (written under a hidden name, then renamed), so the
 * engine never sees half a measurement. Plain Node, no dependencies.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The true response curve: what the steering loop has to find. */
export const RESPONSE = Object.freeze({ parameter: 'focus', optimum: 3.7, width: 1.4, peak: 1000, background: 150 });

/** The noise-free intensity at a focus setting. */
export function intensity(focus) {
  const { optimum, width, peak, background } = RESPONSE;
  return background + peak * Math.exp(-((focus - optimum) ** 2) / (2 * width * width));
}

/** mulberry32: a small seeded PRNG, uniform on [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One measurement: the response plus Gaussian noise (relative to the peak), fixed by (seed, request number). */
export function measure(focus, { seed = 1, noise = 0.02, index = 0 } = {}) {
  const random = prng(Math.imul(seed, 2654435761) ^ Math.imul(index + 1, 40503));
  const u = 1 - random(); // (0, 1]: log(u) is finite
  const gauss = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.round((intensity(focus) + noise * RESPONSE.peak * gauss) * 10) / 10;
}

async function writeAtomically(path, text) {
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Answers every request that has no measurement yet; returns how many it answered. */
async function answerPending(root, options, log) {
  const names = (await readdir(join(root, 'requests')).catch(() => [])).filter((n) => /^\d+\.json$/.test(n)).sort();
  let answered = 0;
  for (const name of names) {
    const out = join(root, 'measurements', name);
    if (existsSync(out)) continue;
    let request;
    try {
      request = JSON.parse(await readFile(join(root, 'requests', name), 'utf8'));
    } catch {
      continue; // not readable yet: the next poll tries again
    }
    const focus = Number(request[RESPONSE.parameter]);
    if (!Number.isFinite(focus)) {
      log(`requests/${name}: "${RESPONSE.parameter}" is not a number; skipping it`);
      continue;
    }
    await new Promise((r) => setTimeout(r, options.exposure));
    const index = Number.parseInt(name, 10);
    const value = measure(focus, { seed: options.seed, noise: options.noise, index });
    const measurement = { request: `requests/${name}`, [RESPONSE.parameter]: focus, intensity: value, exposure_ms: options.exposure, seed: options.seed };
    await mkdir(join(root, 'measurements'), { recursive: true });
    await writeAtomically(out, `${JSON.stringify(measurement, null, 2)}\n`);
    log(`measurements/${name}: ${RESPONSE.parameter} ${focus.toFixed(3)} → intensity ${value}`);
    answered++;
  }
  return answered;
}

async function main() {
  const { values } = parseArgs({
    options: {
      workspace: { type: 'string', short: 'w' },
      seed: { type: 'string', default: '1' },
      noise: { type: 'string', default: '0.02' },
      exposure: { type: 'string', default: '50' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node instrument.mjs [--workspace DIR] [--seed N] [--noise 0.02] [--exposure MS] [--once]');
    return 0;
  }
  const root = values.workspace ?? dirname(fileURLToPath(import.meta.url));
  const options = { seed: Number(values.seed), noise: Number(values.noise), exposure: Number(values.exposure) };
  for (const [key, v] of Object.entries(options)) {
    if (!Number.isFinite(v) || v < 0) {
      console.error(`instrument: --${key}: expected a number ≥ 0, got "${values[key]}"`);
      return 2;
    }
  }
  const log = (line) => console.log(`instrument: ${line}`);
  if (values.once) {
    await answerPending(root, options, log);
    return 0;
  }
  log(`watching ${join(root, 'requests')} (seed ${options.seed}); stops when result.json appears`);
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Polling keeps this small and works on every file system; a request is answered within a poll.
  while (!stopping) {
    await answerPending(root, options, log);
    if (existsSync(join(root, 'result.json'))) {
      log('result.json appeared: the analysis has converged; stopping');
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
