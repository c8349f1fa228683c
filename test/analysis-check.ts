/**
 * Checks lint and diff output from outside: a box as diff prints it (BoxText) read
 * back with node:net's BlockList and plain number parsing, never with the library's
 * own interval code, so a wrong box cannot agree with itself.
 */
import { BlockList } from 'node:net';
import type { BoxText, ConfigInput, FlowInput, ParsedFlow } from '../src/index.js';
import type { FlowAddress } from '../src/types.js';

const NAMES: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, GRE: 47 };

/** A number list as BoxText writes it ("ALL", "22,80-90,none") holds `v` (null: absent). */
function inNumbers(text: string, v: number | null, all: [number, number | null]): boolean {
  if (text === 'ALL') return all[1] === null || v !== null;
  for (const part of text.split(',')) {
    if (part === 'none') {
      if (v === null) return true;
      continue;
    }
    if (v === null) continue;
    const m = /^(\d+)-(\d+)$/.exec(part);
    const [lo, hi] = m ? [Number(m[1]), Number(m[2])] : [NAMES[part] ?? Number(part), NAMES[part] ?? Number(part)];
    if (Number.isNaN(lo)) throw new Error(`unreadable box field ${JSON.stringify(text)}`);
    if (lo <= v && v <= hi) return true;
  }
  return false;
}

/** An address as text node:net reads (IPv6 uncompressed). */
export function addressString(a: FlowAddress): string {
  if (!a.v6) return [24, 16, 8, 0].map((s) => (a.words[0] >>> s) & 255).join('.');
  return a.words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(':');
}

function inAddresses(list: readonly string[], a: FlowAddress | null): boolean {
  if (list.length === 1 && list[0] === 'ALL') return true;
  if (a === null) return list.includes('none');
  // One family only: a BlockList also matches an IPv4 address against IPv6 rules (as ::ffff:a.b.c.d).
  const bl = new BlockList();
  const want = a.v6 ? 'ipv6' : 'ipv4';
  for (const t of list) {
    if (t === 'none') continue;
    const fam = t.includes(':') ? 'ipv6' : 'ipv4';
    if (fam !== want) continue;
    if (t.includes('/')) {
      const [net, len] = t.split('/');
      bl.addSubnet(net!, Number(len), fam);
    } else if (t.includes('-')) {
      const [lo, hi] = t.split('-');
      bl.addRange(lo!, hi!, fam);
    } else bl.addAddress(t, fam);
  }
  return bl.check(addressString(a), a.v6 ? 'ipv6' : 'ipv4');
}

/** The flow is in the box (every field's value among the box's). */
export function boxHolds(box: BoxText, f: ParsedFlow): boolean {
  return (
    inNumbers(box.protocol, f.protocol, [0, 255]) &&
    inNumbers(box.port, f.port, [0, null]) &&
    inNumbers(box.sourcePort, f.sourcePort, [0, null]) &&
    inNumbers(box.icmpType, f.icmpType, [0, null]) &&
    inNumbers(box.icmpCode, f.icmpCode, [0, null]) &&
    inAddresses(box.remote, f.remote) &&
    inAddresses(box.local, f.local)
  );
}

/** The config without written rule `index` of a group's direction (indices after it move up). */
export function withoutRule(doc: ConfigInput, groupId: string, direction: 'inbound' | 'outbound', index: number): ConfigInput {
  const copy = structuredClone(doc);
  const g = copy.securityGroups!.find((x) => x.id === groupId)!;
  (g[direction] as unknown[]).splice(index, 1);
  return copy;
}

/** The flow with its instance replaced (or removed: null). */
export const onInstance = (f: FlowInput, instance: string | null): FlowInput => {
  const { instance: _drop, ...rest } = f;
  return instance === null ? rest : { ...rest, instance };
};
