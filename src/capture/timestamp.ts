/**
 * 64-bit capture timestamps ↔ (whole seconds, nanoseconds), exactly, without BigInt
 * on the common paths.
 *
 * A pcapng timestamp is a 64-bit count of units (if_tsresol: 10^-n or 2^-n s)
 * stored as two 32-bit halves. Nanosecond counts of today's dates (~1.8e18) are
 * past 2^53, so `hi * 2^32 + lo` in a double would round. Dividing by the units per
 * second U ≤ 10^9 < 2^30 in three steps of 16 bits keeps every intermediate value
 * below 2^46, exact in a double:
 *
 *   hi            = q1·U + r1
 *   r1·2^16 + lo₁ = q2·U + r2      (lo₁ = high 16 bits of lo)
 *   r2·2^16 + lo₀ = q3·U + r3      (lo₀ = low 16 bits of lo)
 *   seconds = q1·2^32 + q2·2^16 + q3,  fraction = r3 units
 *
 * Other resolutions (10^-10 .. 10^-19, 2^-n) take a BigInt path: they are rare.
 */

/** How an interface's timestamp units map to nanoseconds. */
export interface TimestampResolution {
  /** Units per second as a BigInt (10^n or 2^n). */
  readonly unitsPerSecond: bigint;
  /** Units per second as a number when it is a power of ten ≤ 10^9 (fast path), else 0. */
  readonly decimalUnits: number;
  /** Nanoseconds per unit on the fast path (10^9 / decimalUnits). */
  readonly nanosPerUnit: number;
  /** "µs", "ns", "10^-12 s", "2^-20 s": for messages. */
  readonly label: string;
}

export function decimalResolution(exponent: number): TimestampResolution {
  const unitsPerSecond = 10n ** BigInt(exponent);
  const label = exponent === 6 ? 'µs' : exponent === 9 ? 'ns' : exponent === 3 ? 'ms' : exponent === 0 ? 's' : `10^-${exponent} s`;
  if (exponent <= 9) {
    const decimalUnits = 10 ** exponent;
    return { unitsPerSecond, decimalUnits, nanosPerUnit: 1e9 / decimalUnits, label };
  }
  return { unitsPerSecond, decimalUnits: 0, nanosPerUnit: 0, label };
}

export function binaryResolution(exponent: number): TimestampResolution {
  return { unitsPerSecond: 1n << BigInt(exponent), decimalUnits: 0, nanosPerUnit: 0, label: `2^-${exponent} s` };
}

export const MICROSECONDS = decimalResolution(6);
export const NANOSECONDS = decimalResolution(9);

/** Result slots of splitUnits (module-level so the hot path allocates nothing). */
export const split = { seconds: 0, nanoseconds: 0 };

/**
 * Splits a 64-bit unit count (hi, lo unsigned 32-bit halves) into whole seconds and
 * nanoseconds (truncated) in `split`. Seconds past 2^53 (only possible with
 * resolutions coarser than 1 µs and absurd counts) are rounded to a double.
 */
export function splitUnits(hi: number, lo: number, res: TimestampResolution): void {
  const u = res.decimalUnits;
  if (u !== 0) {
    if (hi < 0x200000) {
      // hi·2^32 + lo < 2^53: one exact division.
      const v = hi * 4294967296 + lo;
      const s = Math.floor(v / u);
      split.seconds = s;
      split.nanoseconds = (v - s * u) * res.nanosPerUnit;
      return;
    }
    const q1 = Math.floor(hi / u);
    let r = hi - q1 * u;
    let t = r * 65536 + (lo >>> 16);
    const q2 = Math.floor(t / u);
    r = t - q2 * u;
    t = r * 65536 + (lo & 0xffff);
    const q3 = Math.floor(t / u);
    r = t - q3 * u;
    split.seconds = q1 * 4294967296 + q2 * 65536 + q3;
    split.nanoseconds = r * res.nanosPerUnit;
    return;
  }
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  const s = v / res.unitsPerSecond;
  split.seconds = Number(s);
  split.nanoseconds = Number(((v - s * res.unitsPerSecond) * 1_000_000_000n) / res.unitsPerSecond);
}

/** Result slots of joinUnits. */
export const joined = { hi: 0, lo: 0 };

/**
 * The inverse for writing: seconds (an integer ≥ 0) and nanoseconds → a 64-bit
 * count of `units` per second (10^6 or 10^9), as unsigned halves in `joined`.
 * The caller checks that the count fits in 64 bits. Exact: every step stays
 * below 2^53.
 */
export function joinUnits(seconds: number, nanoseconds: number, units: number): void {
  const frac = units === 1e9 ? nanoseconds : Math.floor(nanoseconds / (1e9 / units));
  const sHigh = Math.floor(seconds / 4294967296);
  const sLow = seconds - sHigh * 4294967296;
  // sLow·units = (x1·2^16 + x0)·units; x1·units and x0·units + frac are < 2^47.
  const x1 = Math.floor(sLow / 65536);
  const x0 = sLow - x1 * 65536;
  const a = x1 * units;
  const b = x0 * units + frac;
  const aHigh = Math.floor(a / 65536);
  const mid = (a - aHigh * 65536) * 65536 + b; // < 2^48
  const midHigh = Math.floor(mid / 4294967296);
  joined.lo = mid - midHigh * 4294967296;
  joined.hi = sHigh * units + aHigh + midHigh;
}
