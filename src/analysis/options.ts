/**
 * lintPolicy's and diffPolicies' options, read by src/options.ts's reader as the
 * engine's are: a value outside what the option means is INVALID_ARGUMENT naming
 * it, a name one or two letters from a known one is refused as a typo. The readers
 * here turn a value into what the analysis uses (a port list into intervals).
 */
import type { Interval } from '../types.js';
import type { OptionReader } from '../options.js';
import { parsePorts } from '../config/ports.js';
import { MAX_ANALYSIS_WORK, MAX_REGION_BOXES } from './walk.js';

/** The analysis limits both calls take. */
export interface AnalysisOptions {
  /** Most units of work (a box tested against a box, or a box made); default MAX_ANALYSIS_WORK (2^25). A whole number ≥ 1. */
  maxWork?: number;
  /** Most boxes one region may be cut into; default MAX_REGION_BOXES (16,384). A whole number ≥ 1. */
  maxRegionBoxes?: number;
}

type Reader = OptionReader;

const whole = (min: number, max = Number.MAX_SAFE_INTEGER): Reader => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? { ok: true, value: v } : { ok: false, allowed: `a whole number ${min}-${max === Number.MAX_SAFE_INTEGER ? '2^53' : max}` };

/** A port list: a port spec string ("22,3389,8000-8100"), or a list of ports 0-65535; a leading "+" (string) adds to the defaults. */
export const portList: Reader = (v) => {
  const allowed = 'a port list such as "22,3389,8000-8100" (a leading + adds to the default list) or a list of ports 0-65535';
  if (typeof v === 'string') {
    const add = v.trim().startsWith('+');
    const r = parsePorts(add ? v.trim().slice(1) : v);
    if (!r.ok || r.value === null) return { ok: false, allowed };
    return { ok: true, value: { add, ports: r.value } };
  }
  if (Array.isArray(v) && v.length <= 65536 && v.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535)) {
    return { ok: true, value: { add: false, ports: (v as number[]).map((p): Interval => ({ lo: p, hi: p })) } };
  }
  return { ok: false, allowed };
};

export const oneOf = (words: readonly string[]): Reader => (v) =>
  typeof v === 'string' && words.includes(v.trim().toLowerCase()) ? { ok: true, value: v.trim().toLowerCase() } : { ok: false, allowed: words.join(', ') };

export const ANALYSIS_READERS: Record<string, Reader> = { maxWork: whole(1), maxRegionBoxes: whole(1) };
export const ANALYSIS_DEFAULTS = { maxWork: MAX_ANALYSIS_WORK, maxRegionBoxes: MAX_REGION_BOXES };
