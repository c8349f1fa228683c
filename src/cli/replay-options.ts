/**
 * The option values of `sgfilter replay` that need more than commander gives:
 * --local (repeatable, comma lists), --policy-change AT:CONFIG, --timeout NAME=SECONDS,
 * --capacity. Each parser throws commander's InvalidArgumentError, so a bad value is
 * a usage error (exit 2) that names the option, the value and what is allowed.
 */
import { InvalidArgumentError } from 'commander';
import { parsePeer } from '../config/address.js';
import { quote } from '../config/plain.js';
import { DEFAULT_TIMEOUTS, MAX_CAPACITY, MAX_TIMEOUT, type ConnectionTimeouts } from '../packets/tracker.js';
import { MAX_TIME } from '../packets/batch.js';

/** --local: every address, CIDR or range given so far (repeatable; each value may be a comma list). */
export function collectLocal(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected an address, CIDR or range of the instance (e.g. 10.0.0.5, 10.0.0.0/24, 2001:db8::/64), or a comma list of them');
  for (const item of items) {
    if (item.toLowerCase() === 'any') throw new InvalidArgumentError('"any" is not an instance\'s own address; list its addresses or CIDRs');
    const p = parsePeer(item);
    if (!p.ok) throw new InvalidArgumentError(p.message.includes(quote(item)) ? p.message : `${quote(item)}: ${p.message}`);
  }
  return [...previous, ...items];
}

/** Where a policy change happens: before packet `packet` (1-based), or before the first packet whose timestamp reaches `time`. */
export type ChangePoint = { packet: number } | { time: number };

/** One --policy-change: from `at` on, the policy of the config file `path`. */
export interface PolicyChangeSpec {
  /** As the user wrote it (for messages). */
  text: string;
  at: ChangePoint;
  path: string;
}

const PACKET_NUMBER = /^[1-9][0-9]*$/;
const SECONDS = /^@(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))$/;

/**
 * A capture time given as text, as the double a capture reader gives a packet at
 * that instant: whole seconds + nanoseconds / 1e9, computed the same way (so "at or
 * after" compares exactly: a packet printed by tcpdump -tt as that time is at it, not
 * an ulp before). Digits past the nanosecond round up (toward later).
 */
function captureTime(text: string): number {
  const negative = text.startsWith('-');
  const [whole = '', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  let ns = BigInt(whole === '' ? '0' : whole) * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
  if (!negative && /[1-9]/.test(fraction.slice(9))) ns += 1n;
  if (negative) ns = -ns;
  let seconds = ns / 1_000_000_000n;
  if (ns < seconds * 1_000_000_000n) seconds -= 1n; // floor, as timestampSeconds is
  return Number(seconds) + Number(ns - seconds * 1_000_000_000n) / 1e9;
}

/** --policy-change AT:CONFIG (repeatable): AT is a packet number N (1-based) or @SECONDS (a capture time). */
export function collectPolicyChange(value: string, previous: PolicyChangeSpec[] = []): PolicyChangeSpec[] {
  const colon = value.indexOf(':');
  const usage = 'expected AT:CONFIG, AT a packet number (1-based, as --verdicts "n" and Wireshark\'s No. count them: the change comes before that packet) or @SECONDS (a capture time, as tcpdump -tt prints it: before the first packet at or after it), e.g. 1500:new-policy.yaml or @1700000000.5:new-policy.yaml';
  if (colon <= 0 || colon === value.length - 1) throw new InvalidArgumentError(usage);
  const atText = value.slice(0, colon);
  const path = value.slice(colon + 1);
  let at: ChangePoint;
  if (PACKET_NUMBER.test(atText)) {
    const packet = Number(atText);
    if (!Number.isSafeInteger(packet)) throw new InvalidArgumentError(`packet number ${atText} is too large; ${usage}`);
    at = { packet };
  } else {
    const m = SECONDS.exec(atText);
    if (!m) throw new InvalidArgumentError(`${quote(atText)} is not a packet number or @SECONDS; ${usage}`);
    if (Math.abs(Number(m[1])) > MAX_TIME) throw new InvalidArgumentError(`@${m[1]} is past the times a tracker takes (±2^40 s)`);
    const time = captureTime(m[1]!);
    at = { time };
  }
  return [...previous, { text: value, at, path }];
}

/** --timeout NAME=SECONDS (repeatable): one of the tracker's idle timeouts. */
export function collectTimeout(value: string, previous: Partial<ConnectionTimeouts> = {}): Partial<ConnectionTimeouts> {
  const names = Object.keys(DEFAULT_TIMEOUTS);
  const eq = value.indexOf('=');
  const name = eq < 0 ? value : value.slice(0, eq);
  if (eq < 0 || !Object.hasOwn(DEFAULT_TIMEOUTS, name)) {
    throw new InvalidArgumentError(`expected NAME=SECONDS with NAME one of ${names.map((n) => `${n} (default ${DEFAULT_TIMEOUTS[n as keyof ConnectionTimeouts]})`).join(', ')}; got ${quote(value)}`);
  }
  const text = value.slice(eq + 1).trim();
  const seconds = text === '' ? NaN : Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT) {
    throw new InvalidArgumentError(`${name} must be a positive number of seconds up to ${MAX_TIMEOUT}, got ${quote(text)}`);
  }
  return { ...previous, [name]: seconds };
}

/** --capacity N: connections tracked at most. */
export function parseCapacity(value: string): number {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CAPACITY) throw new InvalidArgumentError(`expected a whole number of connections from 0 to ${MAX_CAPACITY.toLocaleString('en-US')}, got ${quote(value)}`);
  return n;
}
