// One address, one meaning, end to end (SPEC §1): a policy that drops ::/0 and
// accepts 0.0.0.0/0 drops every generated IPv6 address in every spelling — as a flow's
// remote or local address (engine.classify, classifyBatch, the reference), written
// as a rule's peer (address, CIDR, range), and through the socket guards (guardServer
// with handed-over sockets, guardedConnect with literals and with a lookup answering
// in Node's spellings). IPv4-mapped spellings are IPv4 everywhere.
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { fc } from '@fast-check/vitest';
import { createEngine, createFlowBatch, parseConfig, referenceClassify, type ConfigInput, type FlowInput } from '../src/index.js';
import { guardServer, guardedConnect, ConnectionDroppedError } from '../src/node/index.js';
import { formatWords } from '../src/config/address.js';
import { addressArb, ipv4Arb, lowWord, quadOf, trueIpv6Arb, wordsOf, zoneArb, type SpelledAddress } from './address-arbitraries.js';
import { fuzzParams } from './fuzz/settings.js';


const DROP_V6: ConfigInput = {
  securityGroups: [{
    id: 'sg',
    inbound: [
      { protocol: 'ALL', source: '::/0', action: 'drop' },
      { protocol: 'ALL', source: '0.0.0.0/0', action: 'accept' },
    ],
    outbound: [
      { protocol: 'ALL', destination: '::/0', action: 'drop' },
      { protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept' },
    ],
  }],
};
const DROP_V6_LOCAL: ConfigInput = {
  securityGroups: [{
    id: 'sg',
    inbound: [
      { protocol: 'ALL', source: 'any', localCidr: '::/0', action: 'drop' },
      { protocol: 'ALL', source: 'any', localCidr: '0.0.0.0/0', action: 'accept' },
    ],
  }],
};

const verdictFor = (v4: boolean) => (v4 ? { action: 'accept', groupId: 'sg', ruleIndex: 1 } : { action: 'drop', groupId: 'sg', ruleIndex: 0 });
const canonical = (a: SpelledAddress) => (a.v4 ? quadOf(lowWord(a.groups)) : formatWords(true, ...(wordsOf(a.groups) as [number, number, number, number])));

describe('flows: every spelling of an IPv6 address is IPv6', () => {
  it('remote addresses, through classify, classifyBatch and the reference', async () => {
    const engine = await createEngine(DROP_V6);
    const config = parseConfig(DROP_V6);
    fc.assert(
      fc.property(fc.array(fc.tuple(addressArb, fc.constantFrom('inbound', 'outbound'), fc.constantFrom('TCP', 'UDP', 'GRE', 'ICMPv6', 'ICMP')), { minLength: 1, maxLength: 30 }), (cases) => {
        const flows: FlowInput[] = cases.map(([a, direction, protocol]) => ({ direction, protocol, remote: a.text, ...(protocol === 'TCP' || protocol === 'UDP' ? { port: 443 } : {}) }));
        const batch = createFlowBatch(flows);
        const actions = engine.classifyBatch(batch);
        expect(batch.length).toBe(flows.length);
        cases.forEach(([a], i) => {
          const want = verdictFor(a.v4);
          expect(engine.classify(flows[i]!), a.text).toEqual(want);
          expect(batch.verdict(i), a.text).toEqual(want);
          expect(actions[i], a.text).toBe(a.v4 ? 1 : 0);
          expect(referenceClassify(config, flows[i]!), a.text).toEqual(want);
        });
      }),
      fuzzParams('address policy: remote addresses', 300),
    );
  });

  it('local addresses (localCidr ::/0 drop, 0.0.0.0/0 accept)', async () => {
    const engine = await createEngine(DROP_V6_LOCAL);
    const config = parseConfig(DROP_V6_LOCAL);
    fc.assert(
      fc.property(addressArb, addressArb, (local, remote) => {
        const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: remote.text, local: local.text };
        const want = verdictFor(local.v4);
        expect(engine.classify(flow), local.text).toEqual(want);
        expect(referenceClassify(config, flow), local.text).toEqual(want);
      }),
      fuzzParams('address policy: local addresses', 1000),
    );
  });
});

describe('rule peers: an IPv6 peer never opens an IPv4 address, however it is spelled', () => {
  /** Peer text for an address: the address, a one-address CIDR, a range, in the address's own spelling. */
  const peerArb = fc.tuple(addressArb, fc.constantFrom('address', 'cidr', 'range'), addressArb).map(([a, form, other]) => {
    if (form === 'address') return { a, text: a.text };
    if (form === 'cidr') return { a, text: `${a.text}/${a.writtenV6 ? 128 : 32}` };
    // A range from a to itself, the upper end spelled as another generated spelling of the same bits when there is one.
    return { a, text: `${a.text}-${other.v4 === a.v4 && canonical(other) === canonical(a) ? other.text : canonical(a)}` };
  });

  it('accepts exactly its own address: the IPv4 address only when the peer is IPv4 (dotted or mapped), the IPv6 one otherwise', async () => {
    const engine = await createEngine(DROP_V6);
    await fc.assert(
      fc.asyncProperty(peerArb, async ({ a, text }) => {
        const doc: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'ALL', source: text, action: 'accept' }] }] };
        await engine.reload(doc);
        const config = parseConfig(doc);
        const low = lowWord(a.groups);
        const asV4: FlowInput = { direction: 'inbound', protocol: 'GRE', remote: quadOf(low) };
        const asV6: FlowInput = { direction: 'inbound', protocol: 'GRE', remote: a.v4 ? `::${quadOf(low)}` : canonical(a) };
        const accept = { action: 'accept', groupId: 'sg', ruleIndex: 0 };
        const drop = { action: 'drop', groupId: null, ruleIndex: null };
        for (const [flow, want] of [[asV4, a.v4 ? accept : drop], [asV6, a.v4 ? drop : accept]] as const) {
          expect(engine.classify(flow), `${text}: ${flow.remote}`).toEqual(want);
          expect(referenceClassify(config, flow), `${text}: ${flow.remote}`).toEqual(want);
        }
      }),
      fuzzParams('address policy: a peer accepts exactly its address', 300),
    );
  });

  it('::a.b.c.d/len (the IPv4-compatible block, e.g. ::0.0.0.0/96) opens no IPv4 address', async () => {
    const engine = await createEngine(DROP_V6);
    await fc.assert(
      fc.asyncProperty(ipv4Arb, fc.integer({ min: 96, max: 128 }), ipv4Arb, async (net4, len, probe) => {
        const host = 128 - len;
        const base = host >= 32 ? 0 : Number((BigInt(lowWord(net4.groups)) >> BigInt(host)) << BigInt(host));
        const doc: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'ALL', source: `::${quadOf(base)}/${len}`, action: 'accept' }] }] };
        await engine.reload(doc);
        for (const remote of [quadOf(base), probe.text, `::ffff:${quadOf(base)}`]) {
          expect(engine.classify({ direction: 'inbound', protocol: 'UDP', port: 53, remote }).action, `${doc.securityGroups[0]!.inbound![0]!.toString()} ${remote}`).toBe('drop');
        }
        expect(engine.classify({ direction: 'inbound', protocol: 'UDP', port: 53, remote: `::${quadOf(base)}` }).action).toBe('accept');
      }),
      fuzzParams('address policy: ::a.b.c.d/len opens no IPv4', 200),
    );
  });
});

describe('the socket guards: every spelling Node reports of an IPv6 peer is IPv6', () => {
  it('guardServer drops handed-over sockets from any IPv6 spelling (Node prints ::/96 peers as ::a.b.c.d), accepts mapped ones', async () => {
    const engine = await createEngine(DROP_V6);
    const server = net.createServer();
    const seen: string[] = [];
    server.on('connection', (s: net.Socket) => seen.push(s.remoteAddress!));
    const guard = guardServer(server, engine);
    const handOver = (remoteAddress: string) => {
      const s = new net.Socket();
      Object.defineProperties(s, {
        remoteAddress: { value: remoteAddress },
        remotePort: { value: 50000 },
        localAddress: { value: '::1' },
        localPort: { value: 443 },
      });
      server.emit('connection', s);
      return s;
    };
    let accepted = 0;
    let dropped = 0;
    fc.assert(
      fc.property(addressArb, fc.option(zoneArb), fc.boolean(), (a, zone, printed) => {
        let remote = printed && a.writtenV6 ? new net.SocketAddress({ address: a.text, family: 'ipv6' }).address : a.text;
        if (zone !== null && a.writtenV6) remote += `%${zone}`;
        const before = seen.length;
        const s = handOver(remote);
        expect(s.destroyed, remote).toBe(!a.v4);
        expect(seen.length - before, remote).toBe(a.v4 ? 1 : 0);
        if (a.v4) accepted++;
        else dropped++;
        s.destroy();
      }),
      fuzzParams('address policy: guardServer', 500),
    );
    expect(guard.stats()).toMatchObject({ accepted, dropped });
    guard.close();
    await new Promise((r) => setImmediate(r));
  });

  it('guardedConnect refuses every IPv6 spelling, as a literal and as a lookup answer, without dialling', async () => {
    const engine = await createEngine(DROP_V6);
    const outcome = (s: net.Socket) =>
      new Promise<Error | null>((resolve) => {
        s.on('error', resolve);
        s.on('connect', () => {
          s.destroy();
          resolve(null);
        });
      });
    await fc.assert(
      fc.asyncProperty(trueIpv6Arb, fc.boolean(), async (a, printed) => {
        const answer = printed ? new net.SocketAddress({ address: a.text, family: 'ipv6' }).address : a.text;
        const lookup = ((_h: string, _o: unknown, cb: (e: Error | null, r: { address: string; family: number }[]) => void) => cb(null, [{ address: answer, family: 6 }])) as never;
        const connect = guardedConnect(engine, { lookup });
        for (const host of [a.text, 'v6.test']) {
          const err = await outcome(connect({ host, port: 9 }));
          expect(err, `${host} → ${answer}`).toBeInstanceOf(ConnectionDroppedError);
          expect((err as ConnectionDroppedError).code).toBe('ERR_SGFILTER_DROPPED');
        }
      }),
      fuzzParams('address policy: guardedConnect', 150),
    );
  });
});
