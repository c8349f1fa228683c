/**
 * Runs one generated packet scenario through the WASM tracker and the independent
 * model (test/packet-model.ts) and throws at the first disagreement: a packet's
 * verdict, or after a batch the connections, counts or rule hits.
 */
import { expect } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { createEngine, createPacketBatch, parseConfig, type Engine, type RuleHit, type Tracker } from '../src/index.js';
import { PacketModel, type ModelTimeouts } from './packet-model.js';
import { LOCAL_OPTION, buildPackets, ownRanges, policyArb, sequenceArb, type BuiltPacket } from './packet-scenarios.js';

const SHORT: ModelTimeouts = { tcpEstablished: 50, tcpHandshake: 20, tcpClosing: 5, udpOneWay: 10, udpBothWays: 30, icmp: 10, other: 40, fragment: 15 };
const DEFAULTS: ModelTimeouts = { tcpEstablished: 432_000, tcpHandshake: 120, tcpClosing: 10, udpOneWay: 30, udpBothWays: 180, icmp: 30, other: 600, fragment: 30 };

export const scenarioArb = fc.record({
  policy: policyArb,
  policy2: fc.option(policyArb, { nil: null }),
  changeAt: fc.nat(),
  recheck: fc.boolean(),
  capacity: fc.constantFrom(0, 1, 2, 3, 5, 64, 64, 64, 64),
  fragments: fc.constantFrom(0, 1, 2, 64, 64, 64),
  short: fc.boolean(),
  specs: sequenceArb(30),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

const fmt = (v6: boolean, a: bigint): string => {
  const bytes: number[] = [];
  for (let k = (v6 ? 15 : 3); k >= 0; k--) bytes.push(Number((a >> BigInt(8 * k)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
};

function trackerConnections(t: Tracker): string[] {
  return t
    .connections()
    .map((c) => `${c.protocol}|${c.identifier !== null ? 'echo' : ''}|${c.local}|${c.localPort ?? 0}|${c.remote}|${c.remotePort ?? c.identifier ?? 0}|${c.state}|${c.opener}|${c.expires}`)
    .sort();
}

function modelConnections(m: PacketModel): string[] {
  return [...m.conns.values()]
    .map((c) => `${c.proto}|${c.echo ? 'echo' : ''}|${fmt(c.v6, c.local)}|${c.lport}|${fmt(c.v6, c.remote)}|${c.rport}|${c.state}|${c.openerLocal ? 'outbound' : 'inbound'}|${c.expires}`)
    .sort();
}

const ruleHitKey = (h: RuleHit): string => {
  const { description: _, ...rest } = h.rule;
  return `${h.groupId}|${h.direction}|${h.ruleIndex}|${JSON.stringify(rest, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
};

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export interface Scenario {
  policy: { config: object; addresses: string[] };
  policy2: { config: object; addresses: string[] } | null;
  changeAt: number;
  recheck: boolean;
  capacity: number;
  fragments: number;
  short: boolean;
  specs: Parameters<typeof buildPackets>[0];
  cuts: number[];
}

/** Runs one scenario through the tracker and the model; throws with the first disagreement. */
export async function runScenario(s: Scenario, engineCache: { engine?: Engine }): Promise<void> {
  const config = parseConfig(s.policy.config);
  if (!engineCache.engine) engineCache.engine = await createEngine(config);
  else await engineCache.engine.reload(config);
  const engine = engineCache.engine;
  const timeouts = s.short ? SHORT : DEFAULTS;
  const tracker = engine.createTracker({ capacity: s.capacity, fragments: s.fragments, timeouts, recheckOnPublish: s.recheck, local: LOCAL_OPTION, instance: 'i1' });
  try {
    const model = new PacketModel({ config, instance: 'i1', own: ownRanges(s.policy.addresses), capacity: s.capacity, fragments: s.fragments, timeouts, recheckOnPublish: s.recheck });
    const packets = buildPackets(s.specs);
    const times: number[] = [];
    let t = 1_700_000_000;
    for (const p of packets) times.push((t += p.dt));
    const n = packets.length;
    const change = s.policy2 ? s.changeAt % (n + 1) : -1;
    const bounds = new Set<number>([0, n, ...s.cuts.map((c) => c % (n + 1))]);
    if (change >= 0) bounds.add(change);
    const edges = [...bounds].sort((a, b) => a - b);
    for (let k = 0; k + 1 < edges.length; k++) {
      const [from, to] = [edges[k]!, edges[k + 1]!];
      if (from === change) {
        const next = parseConfig(s.policy2!.config);
        await engine.reload(next);
        model.publish(next, ownRanges(s.policy2!.addresses));
      }
      const slice: BuiltPacket[] = packets.slice(from, to);
      const batch = createPacketBatch(slice.map((p, i) => ({ data: p.data, timestamp: times[from + i]!, linkType: p.linkType })));
      const verdicts = tracker.classifyPackets(batch);
      slice.forEach((p, i) => {
        const want = model.packet(p.data, p.linkType, times[from + i]!);
        const got = verdicts.verdict(i);
        const gotShort = { action: got.action, reason: got.reason, groupId: got.groupId, ruleIndex: got.ruleIndex, direction: got.direction };
        if (JSON.stringify(gotShort) !== JSON.stringify(want)) {
          throw new Error(`packet ${from + i} (link ${p.linkType}, t=${times[from + i]}): ${hex(p.data)}\nwant ${JSON.stringify(want)}\ngot  ${JSON.stringify(gotShort)}`);
        }
      });
      const st = tracker.stats();
      expect({ tracked: st.tracked, opened: st.opened, expired: st.expired, removed: st.removed }).toEqual({
        tracked: model.conns.size, opened: model.opened, expired: model.expired, removed: model.removed,
      });
      expect(trackerConnections(tracker)).toEqual(modelConnections(model));
    }
    if (change === n) {
      // A publish after the last packet: only the re-check shows.
      const next = parseConfig(s.policy2!.config);
      await engine.reload(next);
      model.publish(next, ownRanges(s.policy2!.addresses));
      expect(tracker.stats().tracked).toBe(model.conns.size);
      expect(trackerConnections(tracker)).toEqual(modelConnections(model));
    }
    // Counters belong to the rule as published: position and content (test/packet-model.ts hitKey).
    const hits = new Map(tracker.ruleHits().filter((h) => h.packets > 0).map((h) => [ruleHitKey(h), { packets: h.packets, bytes: h.bytes }]));
    expect(hits).toEqual(model.hits);
  } finally {
    tracker.close();
  }
}

