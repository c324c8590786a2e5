import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Trees at least this large leave enough garbage behind a full scan to be worth a collection. */
export const LARGE_TREE = 20_000;

let gc: (() => void) | null | undefined;
let scheduled = false;

/**
 * Collects the garbage of a full-tree scan at once. A scan of 100,000 files
 * allocates ~1.5 KB per file that is garbage a moment later (stat results,
 * promises, two maps of the tree); an idle engine allocates too little
 * afterwards for V8 to collect it on its own, so without this the heap stays
 * at the scan's high-water mark (~150 MB more RSS at 100,000 files) for as
 * long as the engine is idle. A full collection of the engine's small live
 * heap (~11 MB) takes a few milliseconds. It runs on the next turn of the
 * event loop, once the caller has let go of the scan.
 */
export function collectAfterScan(files: number): void {
  if (files < LARGE_TREE) return;
  if (gc === undefined) {
    try {
      // The collector V8 exposes under --expose-gc, reached without that flag on the command line.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  if (!gc || scheduled) return;
  scheduled = true;
  const collect = gc;
  setImmediate(() => {
    scheduled = false;
    collect();
  }).unref();
}

let youngKept = false;
const YOUNG_FLAG = '--semi-space-growth-factor=1';

/**
 * Keeps the engine thread's young generation from growing past the size it
 * has when the engine opens (V8 would double it, up to two semi-spaces of 16
 * MiB, under a burst of jobs, and not give it back: ~30 MiB of RSS the engine
 * then held for good, most of its growth with the work it had done; issue 18).
 * What the engine allocates per job is short-lived or kept in the database,
 * so the extra scavenges cost well under a millisecond each and a burst's
 * speed did not change measurably. V8 reads this flag each time it would grow
 * the space, so it works set at run time (`--max-semi-space-size` is read only
 * when the heap is set up, before any JavaScript runs); but setting up the
 * heap of a new isolate, i.e. starting a worker thread, puts it back to 2, so
 * {@link workerStarted} sets it again. bin/meow.js calls this before the
 * engine's modules load (their loading alone grew it to 2 × 8 MiB). JavaScript
 * recipe threads have their own cap (runner/js-pool.ts).
 */
export function keepYoungGenerationSmall(): void {
  youngKept = true;
  setFlagsFromString(YOUNG_FLAG);
}

/** To be called once a worker thread runs (its heap is set up): see {@link keepYoungGenerationSmall}. */
export function workerStarted(): void {
  if (youngKept) setFlagsFromString(YOUNG_FLAG);
}
