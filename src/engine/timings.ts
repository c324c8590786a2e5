/**
 * The engine's own timings: not meow.yaml keys (those are in
 * core/config-schema.ts), but one place for what were literals.
 */
export interface EngineTimings {
  /**
   * How long a deletion waits for the creation that would make it a move
   * (the settler pairs the two by inode).
   * @default 100
   */
  moveWindowMs: number;
  /**
   * How long the definitions watcher waits for a burst of edits to end.
   * @default 100
   */
  definitionsDebounceMs: number;
  /**
   * After a directory appears, its files are looked at now and once more
   * this much later: a file renamed in while the directory's watch was being
   * set up is seen by one of the two.
   * @default 250
   */
  reobserveDelayMs: number;
  /**
   * How often free space is checked while the disk is full.
   * @default 2000
   */
  diskCheckIntervalMs: number;
  /**
   * How often a live engine checks that its database and socket are still
   * the ones it opened (never less often than its reconcile scans).
   * @default 2000
   */
  stateCheckIntervalMs: number;
}

export const ENGINE_TIMINGS: Readonly<EngineTimings> = Object.freeze({
  moveWindowMs: 100,
  definitionsDebounceMs: 100,
  reobserveDelayMs: 250,
  diskCheckIntervalMs: 2000,
  stateCheckIntervalMs: 2000,
});
