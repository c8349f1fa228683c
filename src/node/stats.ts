/**
 * Counters shared by the socket guards (server guard, egress guards): how many
 * connections each rule accepted and dropped, and the helpers that turn a socket's
 * address into a flow field.
 */
import { nameText } from '../config/plain.js';
import type { Direction, Verdict } from '../types.js';
import { formatWords, IPV6, readAddress } from '../config/address.js';

/** Connections one rule (or the default drop) decided. */
export interface RuleCounters {
  /** Connections accepted. */
  accepted: number;
  /** Connections dropped. */
  dropped: number;
}

/**
 * A snapshot of a guard's counters. `byRule` keys are `groupId#direction#ruleIndex`
 * (e.g. `sg-web#inbound#0`), `default` for the default drop (no rule matched), and
 * `error` for connections dropped because they could not be classified (a socket
 * without an address, an instance the policy no longer has): guards fail closed.
 */
export interface GuardStats {
  /** Connections accepted, in total. */
  accepted: number;
  /** Connections dropped, in total (unclassifiable ones included). */
  dropped: number;
  /** Per deciding rule: keys `groupId#direction#ruleIndex`, `default` (no rule matched) and `error` (not classifiable). */
  byRule: Map<string, RuleCounters>;
}

/**
 * Keys already written, per verdict object: an engine answers every connection a
 * rule decides with the same frozen verdict (src/compile/index.ts verdictIn), so a
 * guard builds each key once per rule and policy, not once per connection. Weak:
 * the keys go with the policies.
 */
const INBOUND_KEYS = new WeakMap<Verdict, string>();
const OUTBOUND_KEYS = new WeakMap<Verdict, string>();

/** The byRule key of a verdict: `sg-web#inbound#0`, or `default`. */
export function ruleKey(verdict: Verdict, direction: Direction): string {
  if (verdict.groupId === null) return 'default';
  const keys = direction === 'inbound' ? INBOUND_KEYS : OUTBOUND_KEYS;
  let k = keys.get(verdict);
  if (k === undefined) {
    k = `${verdict.groupId}#${direction}#${verdict.ruleIndex}`;
    if (Object.isFrozen(verdict)) keys.set(verdict, k); // a caller's object may change: not remembered
  }
  return k;
}

export const ERROR_KEY = 'error';

export class VerdictCounters {
  #accepted = 0;
  #dropped = 0;
  readonly #byRule = new Map<string, RuleCounters>();

  count(key: string, accepted: boolean): void {
    let c = this.#byRule.get(key);
    if (!c) this.#byRule.set(key, (c = { accepted: 0, dropped: 0 }));
    if (accepted) {
      c.accepted++;
      this.#accepted++;
    } else {
      c.dropped++;
      this.#dropped++;
    }
  }

  snapshot(): GuardStats {
    const byRule = new Map<string, RuleCounters>();
    for (const [k, v] of this.#byRule) byRule.set(k, { ...v });
    return { accepted: this.#accepted, dropped: this.#dropped, byRule };
  }
}

/**
 * An address as Node reports it (socket.remoteAddress, dns.lookup, a connect host),
 * as the flow's address text: URL brackets (`[::1]`) and an IPv6 zone id
 * (`fe80::1%eth0`, on link-local sockets) removed, then written in the one canonical
 * form of what it means (src/config/address.ts): `::ffff:203.0.113.7` → `203.0.113.7`
 * (an IPv4-mapped address is IPv4, docs/SEMANTICS.md "Addresses"), `::1.2.3.4` → `::102:304` (Node prints
 * peers in ::/96 that way; they are IPv6), `0:0::0` → `::`. Text that is not an
 * address is returned as it is, and the engine refuses it (guards fail closed).
 */
export function flowAddress(address: string): string {
  // Text with no colon, no zone and no bracket is returned as it is either way (only
  // IPv6 text has colons; a dotted quad that reads is canonical; text that does not
  // read is returned as it is): not parsed twice (the engine reads it again), the
  // common case of a guard on an IPv4 socket.
  if (address.indexOf(':') === -1 && address.indexOf('%') === -1 && address.charCodeAt(0) !== 0x5b) return address;
  let a = address;
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const family = readAddress(a, WORDS, 0);
  if (family < 0) return a;
  // A dotted quad that reads is canonical already (readAddress takes no leading
  // zeros): returned as it is, nothing allocated (the common case of a server).
  if (family !== IPV6 && a.indexOf(':') === -1) return a;
  return formatWords(family === IPV6, WORDS[0]!, WORDS[1]!, WORDS[2]!, WORDS[3]!);
}

const WORDS = new Uint32Array(4);

/** "203.0.113.7:443" or "[2001:db8::1]:443". */
export function endpoint(address: string, port: number | undefined): string {
  const a = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? a : `${a}:${port}`;
}

/** "sg-web inbound rule 0", or "the default drop (no rule matched)". */
export function decidingRule(verdict: Verdict, direction: Direction): string {
  return verdict.groupId === null ? 'the default drop (no rule matched)' : `${nameText(verdict.groupId, 80)} ${direction} rule ${verdict.ruleIndex}`;
}

/**
 * Calls a user callback (onDrop, onAccept) so that its exception cannot break the
 * guard's own work (a socket left half-handled); the exception is rethrown on a
 * microtask, as an uncaught error of the caller's code.
 */
export function notify<T>(callback: ((arg: T) => void) | undefined, arg: T): void {
  if (!callback) return;
  try {
    callback(arg);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}
