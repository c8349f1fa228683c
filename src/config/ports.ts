/** Port specifications (docs/SEMANTICS.md "Rules"): ALL, 22, 80,443, 3306-20000, "20 to 21", mixed lists. */
import type { Interval } from '../types.js';
import { describeValue } from './plain.js';
import { PORT_RANGE_SEPARATOR, PORT_SYNTAX } from './fields.js';

export { PORT_SYNTAX } from './fields.js';

export type PortParse =
  | { ok: true; value: Interval[] | null }
  | { ok: false; code: 'INVALID_PORT' | 'PORT_OUT_OF_RANGE' | 'REVERSED_RANGE'; message: string };

const RANGE = new RegExp(String.raw`^(\d+)${PORT_RANGE_SEPARATOR}(\d+)$`);

/** Parses a port spec; `null` value = ALL. */
export function parsePorts(input: string | number): PortParse {
  if (typeof input === 'number') {
    if (!Number.isInteger(input)) return { ok: false, code: 'INVALID_PORT', message: `${input} is not a whole number; allowed: ${PORT_SYNTAX}` };
    if (input < 0 || input > 65535) return { ok: false, code: 'PORT_OUT_OF_RANGE', message: `port ${input} is outside 0-65535` };
    return { ok: true, value: [{ lo: input, hi: input }] };
  }
  const text = input.trim();
  if (text.toLowerCase() === 'all') return { ok: true, value: null };
  if (text === '') return { ok: false, code: 'INVALID_PORT', message: `the port is empty; allowed: ${PORT_SYNTAX}` };
  const out: Interval[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    let lo: number;
    let hi: number;
    const m = RANGE.exec(part);
    if (m) {
      lo = Number(m[1]);
      hi = Number(m[2]);
    } else if (/^\d+$/.test(part)) {
      lo = hi = Number(part);
    } else {
      const what = part === '' ? 'an empty list entry' : describeValue(part);
      return { ok: false, code: 'INVALID_PORT', message: `${describeValue(input)} has ${what}; allowed: ${PORT_SYNTAX}` };
    }
    for (const p of [lo, hi]) {
      if (p > 65535) return { ok: false, code: 'PORT_OUT_OF_RANGE', message: `port ${p} in ${describeValue(input)} is outside 0-65535` };
    }
    if (lo > hi) {
      return { ok: false, code: 'REVERSED_RANGE', message: `range ${describeValue(part)} is reversed; write the low port first: ${hi}-${lo}` };
    }
    out.push({ lo, hi });
  }
  return { ok: true, value: out };
}

export function formatPorts(ports: Interval[] | null): string {
  if (ports === null) return 'ALL';
  return ports.map((p) => (p.lo === p.hi ? String(p.lo) : `${p.lo}-${p.hi}`)).join(',');
}

export function inIntervals(list: Interval[], v: number): boolean {
  for (const i of list) if (i.lo <= v && v <= i.hi) return true;
  return false;
}

/** Sorted, merged copy (adjacent and overlapping intervals joined). */
export function normalizeIntervals(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => a.lo - b.lo);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && i.lo <= last.hi + 1) last.hi = Math.max(last.hi, i.hi);
    else out.push({ ...i });
  }
  return out;
}
