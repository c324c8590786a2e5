/**
 * Parameter sweeps: one job per point of the cartesian product of the sweep
 * variables. Pure; the pattern parser has already rejected ranges that never
 * reach their stop (step 0, or a step pointing away from stop).
 */
import { ExactNumber, exactFromParsed } from '../core/exact-number.js';
import type { SweepRange, SweepSpec, Variables, VarValue } from '../core/types.js';

// Absorbs the float error in (stop - start) / step, so 0.1..0.3 step 0.1 has 3 values, not 2.
const EPSILON = 1e-9;

/** True when the spec is a `{start, stop, step}` range rather than a list. */
export function isSweepRange(spec: SweepSpec): spec is SweepRange {
  return !Array.isArray(spec);
}

/** Digits after the decimal point as written, e.g. 0.25 → 2, 1e-7 → 7, 3 → 0. */
function decimals(x: number): number {
  const [mantissa, exponent] = String(x).toLowerCase().split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/** An integer range's numbers as bigints. */
export function rangeInBigInts(range: SweepRange): { start: bigint; stop: bigint; step: bigint } {
  const big = (v: number | ExactNumber) => BigInt(v instanceof ExactNumber ? v.text : v);
  return { start: big(range.start), stop: big(range.stop), step: big(range.step) };
}

/** An integer range with an exact int among its numbers, in bigints; null for a range of plain numbers. */
function bigRange(range: SweepRange): { start: bigint; stop: bigint; step: bigint } | null {
  const { start, stop, step } = range;
  return start instanceof ExactNumber || stop instanceof ExactNumber || step instanceof ExactNumber ? rangeInBigInts(range) : null;
}

/** A range of plain numbers (see {@link bigRange} for the other kind). */
function plainRange(range: SweepRange): { start: number; stop: number; step: number } {
  const n = (v: number | ExactNumber) => (v instanceof ExactNumber ? v.toNumber() : v);
  return { start: n(range.start), stop: n(range.stop), step: n(range.step) };
}

/** How many values a range yields (0 when its step never reaches stop). */
export function rangeLength(range: SweepRange): number {
  const big = bigRange(range);
  if (big) return big.step === 0n || (big.stop - big.start) * big.step < 0n ? 0 : Number((big.stop - big.start) / big.step) + 1;
  const { start, stop, step } = plainRange(range);
  if (step === 0 || !Number.isFinite(step) || (stop - start) / step < -EPSILON) return 0;
  return Math.floor((stop - start) / step + EPSILON) + 1;
}

/**
 * The values of a range, stop inclusive, each rounded to the decimals of
 * start and step so that 0.1..0.3 step 0.1 gives 0.1, 0.2, 0.3 exactly; an
 * integer range beyond ±(2^53 − 1) counted in exact ints.
 */
export function rangeValues(range: SweepRange): VarValue[] {
  const values: VarValue[] = [];
  const big = bigRange(range);
  if (big) {
    for (let i = 0; i < rangeLength(range); i++) values.push(exactFromParsed(big.start + BigInt(i) * big.step, false));
    return values;
  }
  const { start, step } = plainRange(range);
  const d = Math.min(100, Math.max(decimals(start), decimals(step)));
  for (let i = 0; i < rangeLength(range); i++) {
    const v = Number((start + i * step).toFixed(d));
    const n = v === 0 ? 0 : v; // no -0
    values.push(range.float && Number.isInteger(n) ? ExactNumber.float(n) : n);
  }
  return values;
}

/** The values a sweep variable takes. */
export function sweepValues(spec: SweepSpec): VarValue[] {
  return isSweepRange(spec) ? rangeValues(spec) : spec;
}

/** The number of points (jobs per trigger) of a sweep; 1 for no sweep variables. */
export function sweepSize(sweep: Record<string, SweepSpec>): number {
  let size = 1;
  for (const spec of Object.values(sweep)) size *= isSweepRange(spec) ? rangeLength(spec) : spec.length;
  return size;
}

/**
 * Every point of the sweep, keys in declaration order, the last key varying
 * fastest. With no sweep variables the result is `[{}]`: one job, no sweep point.
 */
export function expandSweep(sweep: Record<string, SweepSpec>): Variables[] {
  let points: Variables[] = [{}];
  for (const [name, spec] of Object.entries(sweep)) {
    const values = sweepValues(spec);
    points = points.flatMap((point) => values.map((value) => ({ ...point, [name]: value })));
  }
  return points;
}
