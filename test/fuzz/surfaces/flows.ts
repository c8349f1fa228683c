/**
 * Flows, singly and in batches, with their addresses in every spelling Node prints or
 * accepts (test/address-arbitraries.ts): the edge addresses of the model's config
 * written again (`::` anywhere, leading zeros, either case, an embedded dotted quad,
 * IPv4 as IPv4-mapped IPv6), and addresses of the families whose meaning is at stake
 * (mapped, IPv4-compatible, NAT64, 6to4). The reference gets each address in a plain
 * spelling whose meaning comes from Node (net.isIP and the WHATWG URL parser), not
 * from sgfilter's reader. Sometimes one flow gets a hostile field (prototype names,
 * JS-only values, a broken address): then that flow is refused (FLOW_INVALID, with
 * its index) or classified as the reference classifies it, and its batch is refused
 * or answers every flow.
 */
import net from 'node:net';
import fc from 'fast-check';
import { referenceClassify, type FlowInput } from '../../../src/index.js';
import {
  addressArb, addressLikeArb, groupsFromWhatwg, isMapped, lowWord, mutatedArb, plainHex, quadOf, spell, spellingArb, type SpelledAddress, type Spelling,
} from '../../address-arbitraries.js';
import { hostileValue, hostileValueOf, type HostileValue } from '../../hostile.js';
import { mulberry32, randomFlows } from '../../random.js';
import { answer, expectAsReference, note, type Surface } from '../session.js';

/** What Node makes of an address text: its eight groups, whether it is IPv4, a plain spelling; null when Node refuses it (or it has a zone id, which sgfilter refuses). */
export function meaning(text: string): { groups: number[]; v4: boolean; plain: string } | null {
  if (text.includes('%')) return null;
  const family = net.isIP(text);
  if (family === 4) {
    const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
    const groups = [0, 0, 0, 0, 0, 0xffff, (a << 8) | b, (c << 8) | d];
    return { groups, v4: true, plain: quadOf(lowWord(groups)) };
  }
  if (family !== 6) return null;
  const groups = groupsFromWhatwg(new URL(`http://[${text}]`).hostname);
  const v4 = isMapped(groups);
  return { groups, v4, plain: v4 ? quadOf(lowWord(groups)) : plainHex(groups) };
}

/** Another spelling of the same address (IPv4 as a dotted quad or as IPv4-mapped IPv6). */
const respell = (m: { groups: number[]; v4: boolean }, sp: Spelling, mapped: boolean): string => (m.v4 && !mapped ? quadOf(lowWord(m.groups)) : spell(m.groups, sp));

const FIELDS = ['direction', 'protocol', 'remote', 'remote', 'local', 'port', 'sourcePort', 'icmpType', 'icmpCode', 'instance'] as const;

type HostileField = { at: number; field: (typeof FIELDS)[number]; value: HostileValue | { address: string } };

export interface FlowsStep {
  seed: number;
  n: number;
  spellings: [Spelling, boolean][];
  addresses: SpelledAddress[];
  hostile: HostileField | null;
}

export const flowsSurface: Surface<FlowsStep> = {
  name: 'flows',
  weight: 3,
  arbitrary: fc.record({
    seed: fc.integer(),
    n: fc.integer({ min: 1, max: 60 }),
    spellings: fc.array(fc.tuple(spellingArb, fc.boolean()), { minLength: 1, maxLength: 6 }),
    addresses: fc.array(addressArb, { maxLength: 8 }),
    hostile: fc.option(
      fc.record({
        at: fc.nat(),
        field: fc.constantFrom(...FIELDS),
        value: fc.oneof(hostileValue, fc.oneof(mutatedArb, addressLikeArb).map((address) => ({ address }))),
      }),
      { freq: 3 },
    ),
  }),

  async run(s, step) {
    const r = mulberry32(step.seed);
    const base = randomFlows(r, s.config, step.n);
    const flows: Record<string, unknown>[] = [];
    const reference: Record<string, unknown>[] = [];
    base.forEach((f, k) => {
      const [sp, mapped] = step.spellings[k % step.spellings.length]!;
      const g: Record<string, unknown> = { ...f };
      const ref: Record<string, unknown> = { ...f };
      for (const key of ['remote', 'local'] as const) {
        const text = f[key];
        if (typeof text !== 'string') continue;
        const m = meaning(text);
        if (!m) throw new Error(`randomFlows wrote an address Node refuses: ${text}`);
        g[key] = respell(m, sp, mapped);
        ref[key] = m.plain;
      }
      const a = step.addresses[k];
      if (a) {
        g.remote = a.text;
        ref.remote = a.v4 ? quadOf(lowWord(a.groups)) : plainHex(a.groups);
      }
      flows.push(g);
      reference.push(ref);
    });
    note('flows: respelled addresses', flows.length);
    let want: string[] | undefined;
    if (step.hostile) {
      const { at, field, value } = step.hostile;
      const k = at % flows.length;
      const v = 'address' in value ? value.address : hostileValueOf(value);
      flows[k]![field] = v;
      reference[k]![field] = v;
      want = reference.map((f) => answer(() => referenceClassify(s.config, f as unknown as FlowInput)));
      if ((field === 'remote' || field === 'local') && typeof v === 'string') {
        // An address means what it means to Node, or is refused.
        const m = meaning(v);
        if (m) {
          reference[k]![field] = m.plain;
          want[k] = answer(() => referenceClassify(s.config, reference[k] as unknown as FlowInput));
        } else {
          want[k] = 'refused FLOW_INVALID';
        }
      }
      note('flows: hostile field');
    }
    expectAsReference(s, flows, reference, want);
  },
};
