// The packet path, statement by statement (SPEC §7–§8 and the choices of DESIGN §9):
// link layers, header checks, every truncation, state machine and timeouts, ICMP
// errors, fragments, direction, capacity, time, publishes, and the API's validation.
import { describe, expect, it } from 'vitest';
import { createEngine, createPacketBatch, PacketBatch, PACKET_REASONS, SgfilterError, type ConfigInput, type Engine, type Tracker, type TrackerOptions } from '../src/index.js';
import * as P from '../assembly/packet-layout.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINK, TCP_FLAGS as F, ethernet, icmp, ipv4, ipv6, nullLoopback, sll, sll2, tcp, udp,
} from './packet-craft.js';

const L = '10.0.0.5'; // the instance
const L2 = '10.0.0.6'; // the instance too
const R = '203.0.113.9'; // a peer
const L6 = '2001:db8::5';
const R6 = '2001:db8:ffff::9';

const POLICY: ConfigInput = {
  securityGroups: [{
    id: 'sg',
    inbound: [
      { protocol: 'TCP', port: 22, source: 'any', action: 'accept' }, // 0
      { protocol: 'UDP', port: 53, source: 'any', action: 'accept' }, // 1
      { protocol: 'ICMP', source: '0.0.0.0/0', icmpType: 8, action: 'accept' }, // 2
      { protocol: 'ICMPv6', source: '::/0', icmpType: 128, action: 'accept' }, // 3
      { protocol: 'TCP', port: 23, source: 'any', action: 'drop' }, // 4
      { protocol: 'GRE', source: 'any', action: 'accept' }, // 5
      { protocol: 50, source: 'any', action: 'accept' }, // 6
      { protocol: 59, source: 'any', action: 'accept' }, // 7
    ],
    outbound: [
      { protocol: 'TCP', port: '80,443', destination: 'any', action: 'accept' }, // 0
      { protocol: 'UDP', port: 53, destination: 'any', action: 'accept' }, // 1
      { protocol: 'ICMP', destination: '0.0.0.0/0', action: 'accept' }, // 2
      { protocol: 'ICMPv6', destination: '::/0', action: 'accept' }, // 3
    ],
  }],
  instances: [{ id: 'i1', securityGroups: ['sg'], addresses: [L, L2, L6] }],
};

async function setup(options: TrackerOptions = {}, policy: ConfigInput = POLICY): Promise<{ engine: Engine; tracker: Tracker }> {
  const engine = await createEngine(policy);
  return { engine, tracker: engine.createTracker(options) };
}

type Sent = [data: Uint8Array, time: number, link?: number];

/** Classifies packets (raw IP unless given) and returns "action reason [group/index]" per packet. */
function run(tracker: Tracker, packets: Sent[]): string[] {
  const batch = createPacketBatch(packets.map(([data, timestamp, link]) => ({ data, timestamp, linkType: link ?? LINK.RAW })));
  const v = tracker.classifyPackets(batch);
  return packets.map((_, i) => {
    const x = v.verdict(i);
    return x.reason === 'rule' ? `${x.action} rule ${x.direction}/${x.ruleIndex}` : `${x.action} ${x.reason}`;
  });
}

const syn = (src: string, dst: string, sport: number, dport: number, flags: number = F.SYN) => ipv4({ src, dst, proto: 6, payload: tcp({ sport, dport, flags }) });
const syn6 = (src: string, dst: string, sport: number, dport: number, flags: number = F.SYN) => ipv6({ src, dst, proto: 6, payload: tcp({ sport, dport, flags }) });
const dgram = (src: string, dst: string, sport: number, dport: number) => ipv4({ src, dst, proto: 17, payload: udp({ sport, dport, payload: [1, 2, 3, 4] }) });

describe('link layers (SPEC §8)', () => {
  const ip4 = syn(R, L, 5000, 22);
  const ip6 = syn6(R6, L6, 5000, 22);
  const accepted = 'accept rule inbound/0';
  it.each([
    ['raw IPv4', ip4, LINK.RAW],
    ['raw IPv6', ip6, LINK.RAW],
    ['LINKTYPE_IPV4', ip4, LINK.IPV4],
    ['LINKTYPE_IPV6', ip6, LINK.IPV6],
    ['Ethernet', ethernet(ip4, ETHERTYPE_IPV4), LINK.ETHERNET],
    ['Ethernet IPv6', ethernet(ip6, ETHERTYPE_IPV6), LINK.ETHERNET],
    ['Ethernet + 802.1Q', ethernet(ip4, ETHERTYPE_IPV4, [{ tpid: 0x8100, vid: 7 }]), LINK.ETHERNET],
    ['Ethernet + 802.1ad + 802.1Q', ethernet(ip6, ETHERTYPE_IPV6, [{ tpid: 0x88a8, vid: 7 }, { tpid: 0x8100, vid: 8 }]), LINK.ETHERNET],
    ['Linux SLL', sll(ip4, ETHERTYPE_IPV4), LINK.SLL],
    ['Linux SLL2', sll2(ip6, ETHERTYPE_IPV6), LINK.SLL2],
    ['BSD loopback, little-endian AF_INET', nullLoopback(ip4, 2), LINK.NULL],
    ['BSD loopback, big-endian AF_INET', nullLoopback(ip4, 2, true), LINK.NULL],
    ...[24, 28, 30].flatMap((f) => [
      [`BSD loopback AF_INET6 = ${f} (LE)`, nullLoopback(ip6, f), LINK.NULL],
      [`BSD loopback AF_INET6 = ${f} (BE)`, nullLoopback(ip6, f, true), LINK.NULL],
    ]),
  ] as [string, Uint8Array, number][])('%s is read', async (_name, data, link) => {
    const { tracker } = await setup();
    expect(run(tracker, [[data, 1, link]])).toEqual([accepted]);
  });

  it.each([
    ['ARP over Ethernet', ethernet(ip4, ETHERTYPE_ARP), LINK.ETHERNET],
    ['ARP behind a VLAN tag', ethernet(ip4, ETHERTYPE_ARP, [{ tpid: 0x8100, vid: 1 }]), LINK.ETHERNET],
    ['an 802.3 length field', ethernet(ip4, 0x05dc), LINK.ETHERNET],
    ['the old QinQ TPID 0x9100 (not 802.1ad)', ethernet(ip4, 0x9100), LINK.ETHERNET],
    ['SLL carrying ARP', sll(ip4, ETHERTYPE_ARP), LINK.SLL],
    ['SLL2 carrying 802.2 (protocol 4)', sll2(ip4, 4), LINK.SLL2],
    ['loopback family 7', nullLoopback(ip4, 7), LINK.NULL],
    ['an unsupported link type (802.11)', ip4, 105],
  ] as [string, Uint8Array, number][])('%s is not-ip', async (_name, data, link) => {
    const { tracker } = await setup();
    expect(run(tracker, [[data, 1, link]])).toEqual(['drop not-ip']);
  });

  it('the link type may differ per packet', async () => {
    const { tracker } = await setup();
    const batch = createPacketBatch({
      bytes: Uint8Array.from([...ip4, ...ethernet(ip6, ETHERTYPE_IPV6)]),
      offsets: [0, ip4.length], lengths: [ip4.length, ip6.length + 14], timestamps: [1, 2], linkType: [LINK.IPV4, LINK.ETHERNET],
    });
    expect([...tracker.classifyPackets(batch).reasons].map((r) => PACKET_REASONS[r])).toEqual(['rule', 'rule']);
  });
});

describe('malformed packets are dropped, never classified on guessed fields', () => {
  const quoted = ipv4({ src: L, dst: R, proto: 17, payload: udp({ sport: 4000, dport: 53 }) });
  const samples: [string, Uint8Array, number][] = [
    ['Ethernet/IPv4/TCP', ethernet(syn(R, L, 5000, 22), ETHERTYPE_IPV4), LINK.ETHERNET],
    ['QinQ/IPv6/UDP', ethernet(ipv6({ src: R6, dst: L6, proto: 17, payload: udp({ sport: 1, dport: 53 }) }), ETHERTYPE_IPV6, [{ tpid: 0x88a8, vid: 1 }, { tpid: 0x8100, vid: 2 }]), LINK.ETHERNET],
    ['SLL/IPv4 with options/ICMP echo', sll(ipv4({ src: R, dst: L, proto: 1, options: [7, 7, 4, 0, 0, 0, 0, 0], payload: icmp({ type: 8, id: 3 }) }), ETHERTYPE_IPV4), LINK.SLL],
    ['SLL2/IPv6 with hop-by-hop, routing, AH, destination options/TCP', sll2(ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 0 }, { type: 43 }, { type: 51 }, { type: 60 }], payload: tcp({ sport: 1, dport: 22, flags: F.SYN }) }), ETHERTYPE_IPV6), LINK.SLL2],
    ['loopback/IPv4/ICMP error with a quote', nullLoopback(ipv4({ src: R, dst: L, proto: 1, payload: icmp({ type: 3, code: 3, data: quoted }) }), 2), LINK.NULL],
    ['raw IPv6/ICMPv6 echo', ipv6({ src: R6, dst: L6, proto: 58, payload: icmp({ type: 128, id: 9 }) }), LINK.RAW],
  ];
  it.each(samples)('%s: every cut short of the whole packet is malformed', async (_name, data, link) => {
    const { tracker } = await setup();
    const whole = run(tracker, [[data, 1, link]])[0]!;
    expect(whole).not.toMatch(/malformed|not-ip/);
    const cuts: Sent[] = [];
    for (let n = 0; n < data.length; n++) cuts.push([data.subarray(0, n), 1, link]);
    const verdicts = run(tracker, cuts);
    verdicts.forEach((v, n) => expect(`${n} bytes: ${v}`).toBe(`${n} bytes: drop malformed`));
  });

  it('bytes after the IP packet (Ethernet padding, a trailer) are ignored', async () => {
    const { tracker } = await setup();
    const padded = Uint8Array.from([...ethernet(syn(R, L, 5000, 22), ETHERTYPE_IPV4), 0, 0, 0, 0, 0, 0]);
    expect(run(tracker, [[padded, 1, LINK.ETHERNET]])).toEqual(['accept rule inbound/0']);
  });

  const tcpPayload = tcp({ sport: 5000, dport: 22, flags: F.SYN });
  it.each([
    ['IP version 5', ipv4({ src: R, dst: L, proto: 6, payload: tcpPayload, version: 5 })],
    ['IPv6 on a LINKTYPE_IPV4 link is checked by version', ipv6({ src: R6, dst: L6, proto: 6, payload: tcpPayload })],
    ['IHL 4', ipv4({ src: R, dst: L, proto: 6, payload: tcpPayload, ihl: 4 })],
    ['IHL past the captured bytes', ipv4({ src: R, dst: L, proto: 6, payload: [], ihl: 15 })],
    ['total length below the header', ipv4({ src: R, dst: L, proto: 6, payload: tcpPayload, totalLength: 19 })],
    ['total length past the captured bytes', ipv4({ src: R, dst: L, proto: 6, payload: tcpPayload, totalLength: 61 })],
    ['TCP data offset 4', ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 1, dport: 22, flags: F.SYN, doff: 4 }) })],
    ['TCP data offset past the packet', ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 1, dport: 22, flags: F.SYN, doff: 6 }) })],
    ['UDP length 7', ipv4({ src: R, dst: L, proto: 17, payload: udp({ sport: 1, dport: 53, length: 7 }) })],
    ['UDP length past the packet', ipv4({ src: R, dst: L, proto: 17, payload: udp({ sport: 1, dport: 53, length: 9 }) })],
    ['ICMP of 7 bytes', ipv4({ src: R, dst: L, proto: 1, payload: [8, 0, 0, 0, 0, 0, 0] })],
  ] as [string, Uint8Array][])('IPv4: %s', async (name, data) => {
    const { tracker } = await setup();
    expect(run(tracker, [[data, 1, name.includes('LINKTYPE_IPV4') ? LINK.IPV4 : LINK.RAW]])).toEqual(['drop malformed']);
  });

  it.each([
    ['payload length past the captured bytes', ipv6({ src: R6, dst: L6, proto: 6, payload: tcpPayload, payloadLength: 21 })],
    ['an IPv4-mapped source (Linux refuses it)', ipv6({ src: '::ffff:203.0.113.9', dst: L6, proto: 6, payload: tcpPayload })],
    ['an IPv4-mapped destination', ipv6({ src: R6, dst: '::ffff:10.0.0.5', proto: 6, payload: tcpPayload })],
    ['hop-by-hop after another header (RFC 8200: first only)', ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 60 }, { type: 0 }], payload: tcpPayload })],
    ['two fragment headers', ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 44, offset: 0, more: true, id: 1 }, { type: 44, offset: 0, more: true, id: 1 }], payload: tcpPayload })],
    ['an extension header past the payload', ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 60, length: 16 }], payload: [], payloadLength: 8 })],
  ] as [string, Uint8Array][])('IPv6: %s', async (_name, data) => {
    const { tracker } = await setup();
    expect(run(tracker, [[data, 1]])).toEqual(['drop malformed']);
  });

  it('a malformed packet is malformed even when it is not the instance\'s', async () => {
    const { tracker } = await setup();
    const stranger = ipv4({ src: R, dst: '192.0.2.1', proto: 6, payload: tcp({ sport: 1, dport: 22, flags: F.SYN, doff: 4 }) });
    expect(run(tracker, [[stranger, 1]])).toEqual(['drop malformed']);
  });
});

describe('headers: the protocol after options and extension headers (SPEC §8)', () => {
  it('IPv4 options are skipped', async () => {
    const { tracker } = await setup();
    const opts = ipv4({ src: R, dst: L, proto: 6, options: [0x94, 4, 0, 0, 7, 7, 4, 0], payload: tcp({ sport: 1, dport: 22, flags: F.SYN }) });
    expect(run(tracker, [[opts, 1]])).toEqual(['accept rule inbound/0']);
  });
  it('the IPv6 chain is walked: hop-by-hop, routing, destination options, AH', async () => {
    const { tracker } = await setup();
    const chained = ipv6({ src: R6, dst: L6, proto: 17, ext: [{ type: 0, length: 16 }, { type: 43 }, { type: 60 }, { type: 51, length: 16 }], payload: udp({ sport: 9, dport: 53 }) });
    expect(run(tracker, [[chained, 1]])).toEqual(['accept rule inbound/1']);
  });
  it('ESP and "no next header" are the protocol the rules see (IPv4 AH is protocol 51, not walked)', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [
      [ipv6({ src: R6, dst: L6, proto: 50, ext: [{ type: 60 }], payload: [0, 0, 0, 1, 0, 0, 0, 1] }), 1],
      [ipv6({ src: R6, dst: L6, proto: 59, ext: [{ type: 0 }], payload: [] }), 1],
      [ipv4({ src: R, dst: L, proto: 51, payload: [6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0] }), 1],
    ])).toEqual(['accept rule inbound/6', 'accept rule inbound/7', 'drop default']);
  });
  it('ICMP type and code reach the rules; ICMP over IPv6 is just protocol 1', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [
      [ipv4({ src: R, dst: L, proto: 1, payload: icmp({ type: 8, id: 1 }) }), 1],
      [ipv4({ src: R, dst: L, proto: 1, payload: icmp({ type: 13, id: 1 }) }), 1],
      [ipv6({ src: R6, dst: L6, proto: 1, payload: icmp({ type: 8, id: 1 }) }), 1],
    ])).toEqual(['accept rule inbound/2', 'drop default', 'drop default']);
  });
});

describe('TCP state (SPEC §7, §8 Details)', () => {
  it('SYN, SYN+ACK, ACK: the reply passes whatever the outbound rules say, and the handshake completes at the opener\'s ACK', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [
      [syn(R, L, 5000, 22), 1],
      [syn(L, R, 22, 5000, F.SYN | F.ACK), 1.1],
      [syn(R, L, 5000, 22, F.ACK), 1.2],
    ])).toEqual(['accept rule inbound/0', 'accept established', 'accept established']);
    expect(tracker.connections()).toMatchObject([{ protocol: 6, local: L, localPort: 22, remote: R, remotePort: 5000, state: 'tcp-established', opener: 'inbound', expires: 1.2 + 432_000 }]);
  });

  it('before the handshake completes the idle timeout is 120 s', async () => {
    const { tracker } = await setup();
    run(tracker, [[syn(R, L, 5000, 22), 0]]);
    expect(run(tracker, [[syn(L, R, 22, 5000, F.SYN | F.ACK), 119.9]])).toEqual(['accept established']);
    expect(tracker.connections()[0]!.state).toBe('tcp-handshake');
    // At exactly 120 s of silence the connection is gone (alive while now < last + timeout).
    expect(run(tracker, [[syn(L, R, 22, 5000, F.SYN | F.ACK), 239.9]])).toEqual(['drop default']);
    expect(tracker.stats()).toMatchObject({ tracked: 0, expired: 1 });
  });

  it('an ACK from the responder, or the opener\'s ACK before any SYN+ACK, does not complete the handshake', async () => {
    const { tracker } = await setup();
    run(tracker, [[syn(R, L, 5000, 22), 0], [syn(R, L, 5000, 22, F.ACK), 1], [syn(L, R, 22, 5000, F.ACK), 2]]);
    expect(tracker.connections()[0]!.state).toBe('tcp-handshake');
  });

  it('one FIN keeps the connection established; FINs from both sides start the 10 s close', async () => {
    const { tracker } = await setup();
    run(tracker, [[syn(R, L, 5000, 22), 0], [syn(L, R, 22, 5000, F.SYN | F.ACK), 0], [syn(R, L, 5000, 22, F.ACK), 0], [syn(R, L, 5000, 22, F.FIN | F.ACK), 1]]);
    expect(tracker.connections()[0]).toMatchObject({ state: 'tcp-established', expires: 1 + 432_000 });
    expect(run(tracker, [[syn(L, R, 22, 5000, F.ACK | 8), 2], [syn(L, R, 22, 5000, F.FIN | F.ACK), 3]])).toEqual(['accept established', 'accept established']);
    expect(tracker.connections()[0]).toMatchObject({ state: 'tcp-closing', expires: 13 });
    // 10 s of silence after the last packet ends it; the next packet is a new flow (here accepted again).
    expect(run(tracker, [[syn(R, L, 5000, 22, F.ACK), 12.9], [syn(R, L, 5000, 22, F.ACK), 22.9]])).toEqual(['accept established', 'accept rule inbound/0']);
    expect(tracker.stats()).toMatchObject({ opened: 2, expired: 1 });
  });

  it('a RST from either side starts the 10 s close; a RST never opens a connection', async () => {
    const { tracker } = await setup();
    run(tracker, [[syn(R, L, 5000, 22), 0], [syn(L, R, 22, 5000, F.RST | F.ACK), 5]]);
    expect(tracker.connections()[0]).toMatchObject({ state: 'tcp-closing', expires: 15 });
    expect(run(tracker, [[syn(R, L, 6000, 22, F.RST), 6]])).toEqual(['accept rule inbound/0']);
    expect(tracker.stats().opened).toBe(1);
  });

  it('a connection is keyed by both ports: another source port is a new flow for the rules', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[syn(L, R, 40000, 443), 0], [syn(R, L, 443, 40000, F.SYN | F.ACK), 0], [syn(R, L, 443, 40001, F.SYN | F.ACK), 0]]))
      .toEqual(['accept rule outbound/0', 'accept established', 'drop default']);
  });

  it('a dropped opening remembers nothing', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[syn(R, L, 5000, 23), 0], [syn(L, R, 23, 5000, F.SYN | F.ACK), 0]])).toEqual(['drop rule inbound/4', 'drop default']);
    expect(tracker.stats().tracked).toBe(0);
  });
});

describe('UDP, ICMP echo and other protocols (SPEC §7)', () => {
  it('UDP: 30 s while one-way, 180 s once seen both ways', async () => {
    const { tracker } = await setup();
    run(tracker, [[dgram(L, R, 4000, 53), 0]]);
    expect(tracker.connections()[0]).toMatchObject({ state: 'udp-one-way', expires: 30, opener: 'outbound' });
    run(tracker, [[dgram(L, R, 4000, 53), 10]]);
    expect(tracker.connections()[0]).toMatchObject({ state: 'udp-one-way', expires: 40 });
    expect(run(tracker, [[dgram(R, L, 53, 4000), 20]])).toEqual(['accept established']);
    expect(tracker.connections()[0]).toMatchObject({ state: 'udp-both-ways', expires: 200 });
    expect(run(tracker, [[dgram(R, L, 53, 4000), 399.9]])).toEqual(['drop default']);
  });

  it('ICMP echo is keyed by its identifier and lives 30 s', async () => {
    const { tracker } = await setup();
    const echo = (src: string, dst: string, type: number, id: number) => ipv4({ src, dst, proto: 1, payload: icmp({ type, id, seq: 1 }) });
    expect(run(tracker, [
      [echo(R, L, 8, 77), 0],
      [echo(L, R, 0, 77), 1],
      [echo(L, R, 0, 78), 1],
    ])).toEqual(['accept rule inbound/2', 'accept established', 'accept rule outbound/2']);
    expect(tracker.connections().map((c) => [c.identifier, c.state, c.expires])).toEqual([[77, 'icmp', 31], [78, 'icmp', 31]]);
  });

  it('ICMPv6 echo likewise', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [
      [ipv6({ src: R6, dst: L6, proto: 58, payload: icmp({ type: 128, id: 5 }) }), 0],
      [ipv6({ src: L6, dst: R6, proto: 58, payload: icmp({ type: 129, id: 5 }) }), 29.9],
    ])).toEqual(['accept rule inbound/3', 'accept established']);
  });

  it('an ICMP type other than echo and the errors is keyed by the two addresses and timed as another protocol (600 s)', async () => {
    const { tracker } = await setup();
    const stamp = (src: string, dst: string, type: number) => ipv4({ src, dst, proto: 1, payload: icmp({ type, id: 1 }) });
    expect(run(tracker, [[stamp(L, R, 13), 0], [stamp(R, L, 14), 100]])).toEqual(['accept rule outbound/2', 'accept established']);
    expect(tracker.connections()[0]).toMatchObject({ protocol: 1, state: 'other', expires: 700, identifier: null });
  });

  it('echo identifier 0 is never the key of another ICMP type (nor the other way round)', async () => {
    const { tracker } = await setup();
    const msg = (src: string, dst: string, type: number, id: number) => ipv4({ src, dst, proto: 1, payload: icmp({ type, id, seq: 1 }) });
    const msg6 = (src: string, dst: string, type: number, id: number) => ipv6({ src, dst, proto: 58, payload: icmp({ type, id, seq: 1 }) });
    expect(run(tracker, [
      [msg(R, L, 8, 0), 0], // ping id 0: opens (L, R, echo 0)
      [msg(R, L, 5, 0), 1], // a redirect: no inbound rule allows it
      [msg6(R6, L6, 128, 0), 2],
      [msg6(R6, L6, 135, 0), 3],
      [msg6(R6, L6, 137, 0), 4],
      [msg(L2, R, 13, 0), 5], // a timestamp out: opens (L2, R, other ICMP)
      [msg(R, L2, 0, 0), 6], // an unsolicited echo reply id 0 is not its reply
      [msg(R, L2, 14, 0), 7], // the timestamp reply is
    ])).toEqual([
      'accept rule inbound/2', 'drop default', 'accept rule inbound/3', 'drop default', 'drop default',
      'accept rule outbound/2', 'drop default', 'accept established',
    ]);
  });

  it('another protocol is keyed by the two addresses and lives 600 s', async () => {
    const { tracker } = await setup();
    const gre = (src: string, dst: string) => ipv4({ src, dst, proto: 47, payload: [0, 0, 8, 0] });
    expect(run(tracker, [[gre(R, L), 0], [gre(L, R), 599.9], [gre(L, R), 1199.8]])).toEqual(['accept rule inbound/5', 'accept established', 'accept established']);
    expect(tracker.connections()[0]).toMatchObject({ protocol: 47, state: 'other', expires: 1799.8, localPort: null, identifier: null });
    expect(run(tracker, [[gre(L, R), 1799.8]])).toEqual(['drop default']);
  });

  it('timeouts are configurable', async () => {
    const { tracker } = await setup({ timeouts: { udpOneWay: 5, udpBothWays: 7 } });
    expect(tracker.timeouts).toMatchObject({ udpOneWay: 5, udpBothWays: 7, tcpEstablished: 432_000 });
    expect(run(tracker, [[dgram(L, R, 4000, 53), 0], [dgram(R, L, 53, 4000), 4.9], [dgram(R, L, 53, 4000), 11.8], [dgram(R, L, 53, 4000), 18.8]]))
      .toEqual(['accept rule outbound/1', 'accept established', 'accept established', 'drop default']);
  });
});

describe('ICMP errors (SPEC §7: related)', () => {
  const out = () => dgram(L, R, 4000, 53);
  const unreachable = (quote: Uint8Array, src = R, dst = L, type = 3) => ipv4({ src, dst, proto: 1, payload: icmp({ type, code: 3, data: quote }) });

  it('an error quoting a tracked connection is related, even from a router, and refreshes nothing', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[out(), 0], [unreachable(out()), 1], [unreachable(out(), '192.0.2.1', L, 11), 2]])).toEqual(['accept rule outbound/1', 'accept related', 'accept related']);
    expect(tracker.connections()[0]!.expires).toBe(30);
  });

  it('the quote is walked past IPv4 options; it may be cut to its first 8 transport bytes', async () => {
    const { tracker } = await setup();
    const quoted = ipv4({ src: L, dst: R, proto: 17, options: [1, 1, 1, 1, 7, 3, 4, 0], payload: udp({ sport: 4000, dport: 53, payload: [9, 9, 9] }) });
    expect(run(tracker, [[out(), 0], [unreachable(quoted.subarray(0, 28 + 8)), 1]])).toEqual(['accept rule outbound/1', 'accept related']);
  });

  it('ICMPv6: packet too big quoting a tracked TCP connection, walked past extension headers', async () => {
    const { tracker } = await setup();
    const opening = syn6(L6, R6, 40000, 443);
    const quoted = ipv6({ src: L6, dst: R6, proto: 6, ext: [{ type: 60 }], payload: tcp({ sport: 40000, dport: 443, flags: F.ACK }) });
    const tooBig = ipv6({ src: '2001:db8:ffff::1', dst: L6, proto: 58, payload: icmp({ type: 2, data: quoted }) });
    expect(run(tracker, [[opening, 0], [tooBig, 1]])).toEqual(['accept rule outbound/0', 'accept related']);
  });

  it('an error about an untracked connection is a new flow for the rules (its type and code) and never opens one', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[unreachable(out()), 0]])).toEqual(['drop default']);
    // Outbound ICMP is accepted by rule, but an error opens nothing.
    expect(run(tracker, [[unreachable(dgram(R, L, 53, 4000), L, R), 1]])).toEqual(['accept rule outbound/2']);
    expect(tracker.stats().tracked).toBe(0);
  });

  it('an error sent somewhere else than the quoted packet\'s sender is not related (Linux: outer destination = quoted source)', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[out(), 0], [unreachable(out(), R, L2), 1]])).toEqual(['accept rule outbound/1', 'drop default']);
  });

  it('an unreadable quote relates to nothing', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[out(), 0], [unreachable(out().subarray(0, 27)), 1], [unreachable(Uint8Array.from([0x65, ...out().subarray(1)])), 1]]))
      .toEqual(['accept rule outbound/1', 'drop default', 'drop default']);
  });

  it('an error quoting an echo relates to the echo', async () => {
    const { tracker } = await setup();
    const ping = ipv4({ src: L, dst: R, proto: 1, payload: icmp({ type: 8, id: 42 }) });
    expect(run(tracker, [[ping, 0], [unreachable(ping, '192.0.2.1', L, 11), 1]])).toEqual(['accept rule outbound/2', 'accept related']);
  });
});

describe('fragments (SPEC §8)', () => {
  const whole = tcp({ sport: 5000, dport: 22, flags: F.SYN, payload: new Array<number>(16).fill(1) });
  const first = (id = 9, src = R) => ipv4({ src, dst: L, proto: 6, id, mf: true, payload: whole.subarray(0, 24) });
  const later = (id = 9, proto = 6, src = R) => ipv4({ src, dst: L, proto, id, fragOffset: 3, payload: whole.subarray(24) });

  it('later fragments take the first fragment\'s action and reason (and rule)', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[first(), 0], [later(), 1]])).toEqual(['accept rule inbound/0', 'accept rule inbound/0']);
    expect(tracker.ruleHits()[0]).toMatchObject({ groupId: 'sg', direction: 'inbound', ruleIndex: 0, packets: 2 });
  });

  it('rule hits are loggable: JSON carries the rule as text, the rule object stays reachable', async () => {
    const { tracker } = await setup();
    run(tracker, [[first(), 0], [later(), 1]]);
    const [hit] = tracker.ruleHits();
    const json = JSON.parse(JSON.stringify(tracker.ruleHits())) as { text: object; rule?: unknown }[];
    expect(json[0]!.rule).toBeUndefined();
    expect(json[0]!.text).toEqual({ protocol: hit!.rule.text.protocol, port: hit!.rule.text.port, peer: hit!.rule.text.peer, ...(hit!.rule.description ? { description: hit!.rule.description } : {}) });
    expect(typeof hit!.rule.peer).toBe('object');
    expect({ ...hit }).not.toHaveProperty('rule');
  });

  it('a later fragment whose first was not seen is dropped; so is one after 30 s', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[later(), 0], [first(), 1], [later(), 30.9], [later(), 31]])).toEqual(['drop fragment', 'accept rule inbound/0', 'accept rule inbound/0', 'drop fragment']);
  });

  it('the key is source, destination, protocol and identification', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[first(), 0], [later(10), 0], [later(9, 17), 0], [later(9, 6, '198.51.100.1'), 0]])).toEqual(['accept rule inbound/0', 'drop fragment', 'drop fragment', 'drop fragment']);
  });

  it('a first fragment too short for the ports and TCP flags is malformed, and so are its later fragments (RFC 1858)', async () => {
    const { tracker } = await setup();
    const tiny = ipv4({ src: R, dst: L, proto: 6, id: 9, mf: true, payload: whole.subarray(0, 8) });
    expect(run(tracker, [[tiny, 0], [later(), 1]])).toEqual(['drop malformed', 'drop malformed']);
  });

  it('an IPv6 first fragment whose header chain does not fit is too short too (RFC 7112)', async () => {
    const { tracker } = await setup();
    const cut = ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 44, offset: 0, more: true, id: 5 }, { type: 60, length: 16 }], payload: whole.subarray(0, 8), payloadLength: 8 + 8 });
    const rest = ipv6({ src: R6, dst: L6, proto: 60, ext: [{ type: 44, offset: 1, more: false, id: 5 }], payload: whole.subarray(8) });
    expect(run(tracker, [[cut, 0], [rest, 0]])).toEqual(['drop malformed', 'drop malformed']);
  });

  it('the verdict of an established first fragment carries over', async () => {
    const { tracker } = await setup();
    const reply = tcp({ sport: 22, dport: 5000, flags: F.ACK, payload: new Array<number>(16).fill(2) });
    expect(run(tracker, [
      [syn(R, L, 5000, 22), 0],
      [ipv4({ src: L, dst: R, proto: 6, id: 4, mf: true, payload: reply.subarray(0, 24) }), 1],
      [ipv4({ src: L, dst: R, proto: 6, id: 4, fragOffset: 3, payload: reply.subarray(24) }), 1],
    ])).toEqual(['accept rule inbound/0', 'accept established', 'accept established']);
  });

  it('IPv6 fragments are keyed by the fragment header; an atomic fragment is a whole packet', async () => {
    const { tracker } = await setup();
    const f1 = ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 44, offset: 0, more: true, id: 77 }], payload: whole.subarray(0, 24) });
    const f2 = ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 44, offset: 3, more: false, id: 77 }], payload: whole.subarray(24) });
    const atomic = ipv6({ src: R6, dst: L6, proto: 6, ext: [{ type: 44, offset: 0, more: false, id: 78 }], payload: tcp({ sport: 5001, dport: 22, flags: F.SYN }) });
    expect(run(tracker, [[f2, 0], [f1, 0], [f2, 0], [atomic, 0]])).toEqual(['drop fragment', 'accept rule inbound/0', 'accept rule inbound/0', 'accept rule inbound/0']);
    expect(tracker.stats().fragments).toMatchObject({ tracked: 1, recorded: 1 });
  });

  it('a full fragment table remembers nothing more (counted); later fragments of it are `fragment`', async () => {
    const { tracker } = await setup({ fragments: 1 });
    expect(run(tracker, [[first(1), 0], [first(2), 0], [later(1), 0], [later(2), 0]])).toEqual(['accept rule inbound/0', 'accept established', 'accept rule inbound/0', 'drop fragment']);
    expect(tracker.stats().fragments).toMatchObject({ tracked: 1, unrecorded: 1, capacity: 1 });
  });
});

describe('direction (SPEC §7)', () => {
  it('a packet neither to nor from the instance is not-local', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[syn(R, '10.0.0.7', 5000, 22), 0]])).toEqual(['drop not-local']);
  });

  it('to and from the instance is inbound, and the reply between its two addresses is established', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[syn(L2, L, 5000, 22), 0], [syn(L, L2, 22, 5000, F.SYN | F.ACK), 0], [syn(L2, L, 5000, 22, F.ACK), 0]]))
      .toEqual(['accept rule inbound/0', 'accept established', 'accept established']);
    expect(tracker.connections()[0]!.state).toBe('tcp-established');
  });

  it('the `local` option adds addresses and CIDRs to the instance\'s own', async () => {
    const { tracker } = await setup({ local: ['198.51.100.0/24', '2001:db8:77::/48'] });
    expect(run(tracker, [[syn(R, '198.51.100.20', 5000, 22), 0], [syn6(R6, '2001:db8:77::1', 5000, 22), 0]])).toEqual(['accept rule inbound/0', 'accept rule inbound/0']);
  });

  it('own ranges are exact at their edges (several ranges, overlapping and adjacent, both families)', async () => {
    const { tracker } = await setup({ local: ['198.51.100.0/25', '198.51.100.64/26', '198.51.100.128-198.51.100.130', '192.0.2.255', '2001:db8:77::/64', '2001:db8:77:1::-2001:db8:77:1::5', 'ffff::/16'] });
    const to4 = (dst: string) => [syn(R, dst, 5000, 22), 0] as Sent;
    const to6 = (dst: string) => [syn6(R6, dst, 5000, 22), 0] as Sent;
    const inside = ['198.51.100.0', '198.51.100.127', '198.51.100.128', '198.51.100.130', '192.0.2.255', L, L2];
    const outside = ['198.51.100.131', '198.51.100.255', '192.0.2.254', '192.0.3.0', '10.0.0.4', '10.0.0.7', '0.0.0.0', '255.255.255.255'];
    const inside6 = ['2001:db8:77::', '2001:db8:77::ffff:ffff:ffff:ffff', '2001:db8:77:1::', '2001:db8:77:1::5', 'ffff::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', L6];
    const outside6 = ['2001:db8:76:ffff:ffff:ffff:ffff:ffff', '2001:db8:77:1::6', '2001:db8:77:2::', 'fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::', '2001:db8::4'];
    expect(run(tracker, [...inside.map(to4), ...inside6.map(to6)]).every((v) => v === 'accept rule inbound/0')).toBe(true);
    expect(run(tracker, [...outside.map(to4), ...outside6.map(to6)])).toEqual(new Array(outside.length + outside6.length).fill('drop not-local'));
  });

  it('the instance\'s addresses follow the published policy', async () => {
    const { engine, tracker } = await setup();
    const moved = structuredClone(POLICY);
    moved.instances![0]!.addresses = ['10.0.0.8'];
    await engine.reload(moved);
    expect(run(tracker, [[syn(R, L, 5000, 22), 0], [syn(R, '10.0.0.8', 5000, 22), 0]])).toEqual(['drop not-local', 'accept rule inbound/0']);
  });

  it('a tracker needs addresses', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'g' }] });
    expect(() => engine.createTracker()).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/no addresses/) }));
    expect(engine.createTracker({ local: ['10.0.0.0/8'] }).instance).toBe('default');
  });
});

describe('capacity (SPEC §7)', () => {
  it('a full table drops only what the rules accept and would open: table-full, counted; nothing is evicted', async () => {
    const { tracker } = await setup({ capacity: 1 });
    expect(run(tracker, [
      [syn(R, L, 5000, 22), 0], // opens the one connection
      [syn(R, L, 5001, 22), 1], // accepted by the rules, no room
      [syn(R, L, 5002, 23), 1], // dropped by a rule: not table-full
      [syn(R, L, 5003, 22, F.RST), 1], // a RST opens nothing: accepted
      [ipv4({ src: R, dst: L, proto: 1, payload: icmp({ type: 3, data: dgram(L, '192.0.2.1', 1, 53) }) }), 1], // an error opens nothing
      [syn(L, R, 22, 5000, F.SYN | F.ACK), 2], // the tracked one goes on
    ])).toEqual(['accept rule inbound/0', 'drop table-full', 'drop rule inbound/4', 'accept rule inbound/0', 'drop default', 'accept established']);
    expect(tracker.stats()).toMatchObject({ tracked: 1, capacity: 1, dropped: { 'table-full': 1 } });
  });

  it('room comes back when a connection expires, not before', async () => {
    const { tracker } = await setup({ capacity: 1 });
    expect(run(tracker, [[dgram(L, R, 4000, 53), 0], [dgram(L, R, 4001, 53), 29.9], [dgram(L, R, 4001, 53), 30]])).toEqual(['accept rule outbound/1', 'drop table-full', 'accept rule outbound/1']);
  });

  it('capacity 0 tracks nothing', async () => {
    const { tracker } = await setup({ capacity: 0 });
    expect(run(tracker, [[syn(R, L, 5000, 22), 0], [syn(R, L, 5000, 22, F.RST), 0]])).toEqual(['drop table-full', 'accept rule inbound/0']);
  });
});

describe('time comes from the packets (SPEC §7)', () => {
  it('an earlier timestamp counts as the latest seen: it neither revives nor extends', async () => {
    const { tracker } = await setup();
    expect(run(tracker, [[dgram(L, R, 4000, 53), 100], [dgram(R, L, 53, 4000), 50]])).toEqual(['accept rule outbound/1', 'accept established']);
    expect(tracker.connections()[0]!.expires).toBe(280); // refreshed at 100, not at 50
    expect(run(tracker, [[dgram(R, L, 53, 4000), 281], [dgram(R, L, 53, 4000), 0]])).toEqual(['drop default', 'drop default']);
    expect(tracker.stats().latestTime).toBe(281);
  });

  it('the same packets give the same verdicts in any batching', async () => {
    const packets: Sent[] = [[syn(R, L, 5000, 22), 0], [syn(L, R, 22, 5000, F.SYN | F.ACK), 1], [syn(R, L, 5000, 22, F.ACK), 200], [dgram(L, R, 1, 53), 201], [dgram(R, L, 53, 1), 260]];
    const { tracker: a } = await setup();
    const { tracker: b } = await setup();
    expect(packets.map((p) => run(b, [p])[0])).toEqual(run(a, packets));
  });
});

describe('publishing a policy (SPEC §7)', () => {
  const closed = { securityGroups: [{ id: 'sg', inbound: [], outbound: [] }], instances: [{ id: 'i1', securityGroups: ['sg'], addresses: [L, L2, L6] }] };

  it('tracked connections survive a publish that would drop their opening flow', async () => {
    const { engine, tracker } = await setup();
    run(tracker, [[syn(R, L, 5000, 22), 0]]);
    await engine.reload(closed);
    expect(run(tracker, [[syn(L, R, 22, 5000, F.SYN | F.ACK), 1], [syn(R, L, 6000, 22), 1]])).toEqual(['accept established', 'drop default']);
  });

  it('with recheckOnPublish they are removed at the publish (reload, update and loadSnapshot alike)', async () => {
    const { engine, tracker } = await setup({ recheckOnPublish: true });
    run(tracker, [[syn(R, L, 5000, 22), 0], [dgram(L, R, 4000, 53), 0]]);
    await engine.update((tx) => tx.removeRule('sg', 'inbound', 0));
    expect(tracker.stats()).toMatchObject({ tracked: 1, removed: 1 });
    expect(tracker.connections()[0]).toMatchObject({ protocol: 17 });
    const other = await createEngine(closed);
    await engine.loadSnapshot(other.snapshot());
    expect(tracker.stats()).toMatchObject({ tracked: 0, removed: 2 });
  });

  it('a publish without the tracker\'s instance: classifyPackets refuses (state kept), re-checks remove everything', async () => {
    const { engine, tracker } = await setup();
    const { engine: e2, tracker: t2 } = await setup({ recheckOnPublish: true });
    const gone = { securityGroups: POLICY.securityGroups, instances: [{ id: 'i2', securityGroups: ['sg'], addresses: [L] }] };
    for (const [e, t] of [[engine, tracker], [e2, t2]] as const) {
      run(t, [[syn(R, L, 5000, 22), 0]]);
      await e.reload(gone);
      expect(() => run(t, [[syn(L, R, 22, 5000, F.SYN | F.ACK), 1]])).toThrow(expect.objectContaining({ code: 'UNKNOWN_INSTANCE' }));
    }
    expect(tracker.stats().tracked).toBe(1);
    expect(t2.stats().tracked).toBe(0);
    await engine.reload(POLICY);
    expect(run(tracker, [[syn(L, R, 22, 5000, F.SYN | F.ACK), 1]])).toEqual(['accept established']);
  });

  it('rule hits belong to the rule that decided them: kept over a publish only by the same rule at the same position', async () => {
    const { engine, tracker } = await setup();
    const none = ipv6({ src: R6, dst: L6, proto: 59, payload: [] });
    run(tracker, [[syn(R, L, 5000, 22), 0], [syn(R, L, 5000, 23), 0], [none, 0], [ipv4({ src: R, dst: L, proto: 47, payload: [] }), 0]]);
    expect(tracker.ruleHits().every((h) => h.current && h.policyVersion === 1)).toBe(true);
    await engine.update((tx) => tx.removeRule('sg', 'inbound', 4));
    run(tracker, [[syn(R, L, 5001, 22), 0]]);
    const hits = tracker.ruleHits();
    // Rules 0-3 are unchanged: their counters carry over.
    expect(hits.find((h) => h.current && h.ruleIndex === 0 && h.direction === 'inbound')).toMatchObject({ packets: 2, bytes: 80, action: 'accept', policyVersion: 1 });
    // Position 4 now holds what was rule 5 (GRE, accept): a rule moved by the removal counts afresh…
    expect(hits.find((h) => h.current && h.ruleIndex === 4 && h.direction === 'inbound')).toMatchObject({ packets: 0, action: 'accept', policyVersion: 2, rule: { protocol: 47 } });
    // … and the rules of the earlier policy keep their own hits, action and rule, listed after the current ones.
    const earlier = hits.filter((h) => !h.current);
    expect(earlier.map((h) => [h.direction, h.ruleIndex, h.action, h.packets, h.bytes, h.policyVersion])).toEqual([
      ['inbound', 4, 'drop', 1, 40, 1], // TCP 23 drop
      ['inbound', 5, 'accept', 1, 20, 1], // GRE at its old position
      ['inbound', 7, 'accept', 1, 40, 1], // protocol 59, gone from position 7
    ]);
    expect(earlier[0]!.rule).toMatchObject({ action: 'drop', ports: [{ lo: 23, hi: 23 }] });
    // Only the description changed: the same rule, the counter carries over.
    await engine.update((tx) => tx.replaceRule('sg', 'inbound', 0, { protocol: 'TCP', port: 22, source: 'any', action: 'accept', description: 'ssh' }));
    const after = tracker.ruleHits().find((h) => h.current && h.ruleIndex === 0 && h.direction === 'inbound');
    expect(after).toMatchObject({ packets: 2, policyVersion: 1, rule: { description: 'ssh' } });
    tracker.resetRuleHits();
    expect(tracker.ruleHits().every((h) => h.packets === 0 && h.bytes === 0)).toBe(true);
  });

  it('a failed publish changes nothing for the tracker', async () => {
    const { engine, tracker } = await setup({ recheckOnPublish: true });
    run(tracker, [[syn(R, L, 5000, 22), 0]]);
    await expect(engine.reload({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 99999, source: 'any', action: 'accept' }] }] })).rejects.toThrow();
    expect(tracker.stats().tracked).toBe(1);
  });
});

describe('counters', () => {
  it('a packet whose wire length is less than its captured bytes (a lying pcap record) is malformed, counted with its captured bytes', async () => {
    const { tracker } = await setup();
    const data = syn(R, L, 5000, 22);
    const batch = createPacketBatch({ bytes: data, offsets: [0, 0, 0, 0], lengths: [40, 40, 40, 40], timestamps: [0, 1, 2, 3], linkType: LINK.RAW, wireLengths: [0, 1, 39, 40] });
    const v = tracker.classifyPackets(batch);
    expect([0, 1, 2, 3].map((i) => `${v.verdict(i).action} ${v.verdict(i).reason}`)).toEqual(['drop malformed', 'drop malformed', 'drop malformed', 'accept rule']);
    expect(tracker.stats()).toMatchObject({ packets: 4, bytes: 160, opened: 1 });
  });

  it('stats count packets and bytes by action and reason; rule hits count packets and wire bytes', async () => {
    const { tracker } = await setup();
    const data = syn(R, L, 5000, 22);
    const batch = createPacketBatch({ bytes: data, offsets: [0, 0], lengths: [data.length, data.length], timestamps: [0, 1], linkType: LINK.RAW, wireLengths: [1500, 1500] });
    tracker.classifyPackets(batch);
    expect(tracker.stats()).toMatchObject({ packets: 2, bytes: 3000, opened: 1, accepted: { rule: 1, established: 1, related: 0 } });
    expect(tracker.ruleHits()[0]).toMatchObject({ packets: 1, bytes: 1500 });
  });
});

describe('API and validation', () => {
  it.each([
    [{ capacity: -1 }, /capacity/],
    [{ capacity: 1.5 }, /capacity/],
    [{ capacity: 2 ** 25 }, /capacity/],
    [{ fragments: 'many' }, /fragments/],
    [{ timeouts: { udpOneWay: 0 } }, /udpOneWay/],
    [{ timeouts: { udpOneWay: Number.NaN } }, /udpOneWay/],
    [{ timeouts: { other: 2 ** 33 } }, /other/],
    [{ timeouts: { tcpEstablshed: 5 } }, /unknown timeout "tcpEstablshed"/],
    [JSON.parse('{"timeouts":{"__proto__":5}}') as object, /unknown timeout "__proto__"/],
    [{ recheckOnPublish: 'yes' }, /recheckOnPublish/],
    [{ capacty: 5 }, /unknown option "capacty"/],
    [{ local: ['10.0.0.1/8'] }, /host bits/],
    [{ local: 'any' }, /list/],
    [{ local: ['any'] }, /any/],
  ])('createTracker(%j) is refused with INVALID_ARGUMENT', async (options, message) => {
    const engine = await createEngine(POLICY);
    expect(() => engine.createTracker(options as TrackerOptions)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });

  it('an unknown instance is UNKNOWN_INSTANCE', async () => {
    const engine = await createEngine(POLICY);
    expect(() => engine.createTracker({ instance: 'nope' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_INSTANCE' }));
  });

  it.each([
    [{ bytes: [1, 2], offsets: [0], lengths: [1], timestamps: 0, linkType: 1 }, /bytes must be a Uint8Array/],
    [{ bytes: new Uint8Array(10), offsets: [0, 5], lengths: [5], timestamps: 0, linkType: 1 }, /lengths has 1 entries for 2 packets/],
    [{ bytes: new Uint8Array(10), offsets: [6], lengths: [5], timestamps: 0, linkType: 1 }, /packet 0: offset 6 \+ length 5 = 11 is past the 10 bytes/],
    [{ bytes: new Uint8Array(10), offsets: [0, -1], lengths: [1, 1], timestamps: 0, linkType: 1 }, /offsets\[1\] is -1/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1.5], timestamps: 0, linkType: 1 }, /lengths\[0\] is 1.5/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: [Number.NaN], linkType: 1 }, /timestamps\[0\] is NaN/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: Infinity, linkType: 1 }, /timestamps is Infinity/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: [1e300], linkType: 1 }, /timestamps\[0\] is 1e\+300/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: 0, linkType: [1, 1] }, /linkType has 2 entries/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: 0, linkType: -1 }, /linkType is -1/],
    [{ bytes: new Uint8Array(10), offsets: [0], lengths: [1], timestamps: 0, linkType: 1, wireLengths: [2 ** 32] }, /wireLengths\[0\]/],
  ])('createPacketBatch(%#) is refused with PACKET_BATCH_INVALID naming the packet and field', (input, message) => {
    expect(() => createPacketBatch(input as never)).toThrow(expect.objectContaining({ code: 'PACKET_BATCH_INVALID', message: expect.stringMatching(message) }));
  });

  it.each([
    [{ bytes: new Uint8Array(10), offsets: Uint32Array.of(6), lengths: Uint16Array.of(5), timestamps: 0, linkType: Uint16Array.of(1) }, /packet 0: offset 6 \+ length 5 = 11 is past the 10 bytes/],
    [{ bytes: new Uint8Array(10), offsets: Uint32Array.of(0, 0), lengths: Uint32Array.of(1), timestamps: 0, linkType: 1 }, /lengths has 1 entries for 2 packets/],
    [{ bytes: new Uint8Array(10), offsets: Uint32Array.of(0), lengths: Uint32Array.of(1), timestamps: 0, linkType: Uint16Array.of(1, 1) }, /linkType has 2 entries/],
    [{ bytes: new Uint8Array(10), offsets: Float64Array.of(0.5), lengths: Uint32Array.of(1), timestamps: 0, linkType: 1 }, /offsets\[0\] is 0.5/],
    [{ bytes: new Uint8Array(10), offsets: Int32Array.of(-1), lengths: Uint32Array.of(1), timestamps: 0, linkType: 1 }, /offsets\[0\] is -1/],
    [{ bytes: new Uint8Array(10), offsets: Uint32Array.of(0), lengths: Uint32Array.of(1), timestamps: 0, linkType: Int16Array.of(-1) }, /linkType\[0\] is -1/],
  ])('createPacketBatch from typed arrays (%#): the unsigned ones copied whole, still refused on lengths and bounds', (input, message) => {
    expect(() => createPacketBatch(input as never)).toThrow(expect.objectContaining({ code: 'PACKET_BATCH_INVALID', message: expect.stringMatching(message) }));
  });

  it('a batch from unsigned typed arrays classifies as the same batch from plain arrays', async () => {
    const packets = [syn(R, L, 40000, 22), dgram(L, R, 5353, 53), syn6(R6, L6, 1234, 443), syn(R, L, 40001, 23)];
    const bytes = new Uint8Array(packets.reduce((a, p) => a + p.length + 3, 0));
    const offsets: number[] = [];
    let at = 0;
    for (const p of packets) {
      at += 3; // gaps between packets, as a capture's record headers
      bytes.set(p, at);
      offsets.push(at);
      at += p.length;
    }
    const lengths = packets.map((p) => p.length);
    const plain = { bytes, offsets, lengths, wireLengths: lengths.map((n) => n + 7), timestamps: [1, 2, 3, 4], linkType: [101, 101, 101, 101] };
    const typed = { bytes, offsets: Uint32Array.from(offsets), lengths: Uint16Array.from(lengths), wireLengths: Uint32Array.from(plain.wireLengths), timestamps: Float64Array.from(plain.timestamps), linkType: Uint8Array.from(plain.linkType) };
    const verdicts = async (input: typeof plain | typeof typed) => {
      const { tracker } = await setup();
      const v = tracker.classifyPackets(createPacketBatch(input));
      const out = Array.from({ length: v.length }, (_, i) => v.verdict(i));
      const stats = tracker.stats();
      tracker.close();
      return { out, stats };
    };
    const a = await verdicts(plain);
    expect(await verdicts(typed)).toEqual(a);
    expect(a.out.map((v) => v.action)).toContain('accept');
  });

  it('classifyPackets takes only a PacketBatch from createPacketBatch; a closed tracker refuses everything', async () => {
    const { tracker } = await setup();
    expect(() => tracker.classifyPackets({ length: 1 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const forged = { bytes: new Uint8Array(1), offsets: Uint32Array.of(1e6), lengths: Uint32Array.of(60), wire: Uint32Array.of(60), times: Float64Array.of(0), links: Uint32Array.of(101), spanStart: 0, spanEnd: 1 };
    expect(() => new PacketBatch(Symbol('checked by createPacketBatch'), forged)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    tracker.close();
    tracker.close();
    for (const call of [() => tracker.stats(), () => tracker.ruleHits(), () => tracker.connections(), () => run(tracker, [[syn(R, L, 1, 22), 0]])]) {
      expect(call).toThrow(expect.objectContaining({ code: 'TRACKER_CLOSED' }));
    }
  });

  it('an empty batch is fine; verdicts can be reused', async () => {
    const { tracker } = await setup();
    expect(tracker.classifyPackets(createPacketBatch([])).length).toBe(0);
    const batch = createPacketBatch([{ data: syn(R, L, 1, 22), timestamp: 0 }], { linkType: LINK.RAW });
    const v = tracker.classifyPackets(batch);
    expect(tracker.classifyPackets(batch, v)).toBe(v);
    expect(v.verdict(0)).toEqual({ action: 'accept', reason: 'established', groupId: null, ruleIndex: null, direction: null });
    expect(() => v.verdict(1)).toThrow(SgfilterError);
  });

  it('reason names follow the layout\'s codes', () => {
    expect(PACKET_REASONS[P.REASON_RULE]).toBe('rule');
    expect(PACKET_REASONS[P.REASON_TABLE_FULL]).toBe('table-full');
    expect(PACKET_REASONS[P.REASON_NOT_IP]).toBe('not-ip');
    expect(PACKET_REASONS.length).toBe(P.REASON_COUNT);
  });

  it('a batch bigger than one window (64 MB of span) goes through in several calls with the same verdicts', async () => {
    const { tracker } = await setup();
    const { tracker: ref } = await setup();
    const a = syn(R, L, 5000, 22);
    const b = syn(L, R, 22, 5000, F.SYN | F.ACK);
    const bytes = new Uint8Array(70 << 20);
    bytes.set(a, 0);
    bytes.set(b, bytes.length - b.length);
    const batch = createPacketBatch({ bytes, offsets: [0, bytes.length - b.length], lengths: [a.length, b.length], timestamps: [0, 1], linkType: LINK.RAW });
    expect([...tracker.classifyPackets(batch).reasons]).toEqual([...ref.classifyPackets(createPacketBatch([{ data: a, timestamp: 0 }, { data: b, timestamp: 1 }], { linkType: LINK.RAW })).reasons]);
  });
});

describe('memory', () => {
  it('a tracked connection costs at most 100 bytes (entry and bucket)', () => {
    for (const capacity of [1, 1000, 65_536, 1_000_000]) {
      const buckets = 2 ** Math.ceil(Math.log2(capacity));
      expect((capacity * P.CONN_SIZE + buckets * 4) / capacity).toBeLessThanOrEqual(100);
    }
  });

  it('a 1,000,000-connection tracker grows the engine by about 68 MB, and closing trackers gives the memory back', async () => {
    const engine = await createEngine(POLICY);
    const before = engine.memoryBytes;
    const big = engine.createTracker({ capacity: 1_000_000, fragments: 0 });
    expect(engine.memoryBytes - before).toBeLessThanOrEqual(1_000_000 * 100);
    big.close();
    const after = engine.memoryBytes;
    for (let k = 0; k < 50; k++) engine.createTracker({ capacity: 200_000 }).close();
    expect(engine.memoryBytes).toBe(after);
  });
});
