/**
 * A large synthetic capture for the file-to-file benchmark, from a seed: the
 * traffic of one instance (10.0.0.1 and 2001:db8::1) with the rest of the world.
 *
 *   - new TCP connections, inbound (to 22, 80, 443, 8080, 8050, 3389, 25) and
 *     outbound (to 443, 80, 5432): SYN, SYN-ACK, ACK, data both ways, FINs, ACK;
 *   - established TCP connections: the capture starts in their middle (data and
 *     ACKs only, no handshake), as in any capture taken on a live host;
 *   - UDP (DNS both ways, and high ports), ICMP and ICMPv6 echo request/reply;
 *   - about 70% IPv4, 30% IPv6; 1% of packets between two other hosts (not the instance's).
 *
 * Up to 2,000 connections are open at once and their packets interleave. Every
 * packet gets a timestamp 1-20 µs after the previous one, so a timestamp names one
 * packet. Link types: Ethernet in a pcap, or (mixed) pcapng with an Ethernet, a raw IP
 * and a Linux cooked v2 interface. Headers are well formed (lengths, IHL, offsets),
 * checksums are zero: nothing here verifies them.
 *
 * Each packet's stateless verdict under a policy (every packet classified as a new
 * flow by the reference matcher, the direction rule of docs/SEMANTICS.md) comes with the capture,
 * to check the BPF translation against what tcpdump keeps.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { CaptureBatch } from '../src/capture/batch.js';
import { createCaptureEncoder } from '../src/capture/writer.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from '../src/capture/link-types.js';
import { parseFlow, referenceClassify, type Config, type FlowInput } from '../src/index.js';
import { mulberry32, type Rng } from '../test/random.js';

export const LOCAL_V4 = '10.0.0.1';
export const LOCAL_V6 = '2001:db8::1';

export interface TrafficOptions {
  packets: number;
  seed: number;
  /** pcapng with three link types instead of an Ethernet pcap. */
  mixed?: boolean;
}

export interface GeneratedCapture {
  path: string;
  packets: number;
  bytes: number;
  /** 1 where the policy accepts the packet as a new flow (stateless), per packet. */
  accepted: Uint8Array;
  format: 'pcap' | 'pcapng';
}

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMP6 = 58;

interface Endpoint {
  v6: boolean;
  addr: Uint8Array;
  text: string;
}

interface Connection {
  protocol: number;
  /** The side that opened it (client) and the other (server). */
  client: Endpoint;
  server: Endpoint;
  clientPort: number;
  serverPort: number;
  /** Packets still to send: +1 client → server, -1 server → client, with TCP flags and payload size. */
  script: { fromClient: boolean; flags: number; payload: number; icmpType?: number }[];
  next: number;
  iface: number;
  /** Stateless verdicts of its packets by side (computed once). */
  verdictFromClient: number;
  verdictFromServer: number;
}

function v4(text: string): Endpoint {
  return { v6: false, addr: Uint8Array.from(text.split('.').map(Number)), text };
}

function v6(groups: number[]): Endpoint {
  const addr = new Uint8Array(16);
  groups.forEach((g, i) => {
    addr[i * 2] = g >> 8;
    addr[i * 2 + 1] = g & 0xff;
  });
  return { v6: true, addr, text: groups.map((g) => g.toString(16)).join(':') };
}

const LOCAL4 = v4(LOCAL_V4);
const LOCAL6 = v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);

function remote(r: Rng, six: boolean): Endpoint {
  const x = r();
  if (!six) {
    if (x < 0.3) return v4(`203.0.113.${1 + Math.floor(r() * 254)}`);
    if (x < 0.45) return v4(`198.51.100.${1 + Math.floor(r() * 254)}`);
    return v4(`${1 + Math.floor(r() * 222)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`);
  }
  if (x < 0.3) return v6([0x2001, 0xdb8, 0x53, 0, 0, 0, 0, 1 + Math.floor(r() * 65534)]);
  return v6([0x2400 + Math.floor(r() * 0x100), Math.floor(r() * 65536), Math.floor(r() * 65536), 0, 0, 0, 0, 1 + Math.floor(r() * 65534)]);
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const payload = (r: Rng) => (r() < 0.5 ? Math.floor(r() * 200) : r() < 0.8 ? 200 + Math.floor(r() * 800) : 1000 + Math.floor(r() * 448));

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const PSH = 0x08;

function tcpScript(r: Rng, established: boolean): Connection['script'] {
  const s: Connection['script'] = [];
  if (!established) s.push({ fromClient: true, flags: SYN, payload: 0 }, { fromClient: false, flags: SYN | ACK, payload: 0 }, { fromClient: true, flags: ACK, payload: 0 });
  const exchanges = 1 + Math.floor(r() * 6);
  for (let i = 0; i < exchanges; i++) {
    s.push({ fromClient: true, flags: PSH | ACK, payload: payload(r) }, { fromClient: false, flags: ACK, payload: 0 });
    s.push({ fromClient: false, flags: PSH | ACK, payload: payload(r) }, { fromClient: true, flags: ACK, payload: 0 });
  }
  if (!established || r() < 0.5) s.push({ fromClient: true, flags: FIN | ACK, payload: 0 }, { fromClient: false, flags: FIN | ACK, payload: 0 }, { fromClient: true, flags: ACK, payload: 0 });
  return s;
}

function newConnection(r: Rng, mixed: boolean): Connection {
  const six = r() < 0.3;
  const local = six ? LOCAL6 : LOCAL4;
  const other = remote(r, six);
  const x = r();
  const iface = mixed ? Math.floor(r() * 3) : 0;
  const base = { next: 0, iface, verdictFromClient: -1, verdictFromServer: -1, clientPort: 1024 + Math.floor(r() * 64000) };
  if (x < 0.01) {
    // Two hosts that are not the instance.
    return { ...base, protocol: TCP, client: remote(r, six), server: other, serverPort: 80, script: tcpScript(r, false) };
  }
  if (x < 0.55) {
    return { ...base, protocol: TCP, client: other, server: local, serverPort: pick(r, [22, 80, 443, 443, 443, 8080, 8050, 3389, 25]), script: tcpScript(r, r() < 0.4) };
  }
  if (x < 0.8) {
    return { ...base, protocol: TCP, client: local, server: other, serverPort: pick(r, [443, 443, 80, 5432]), script: tcpScript(r, r() < 0.4) };
  }
  if (x < 0.93) {
    const inbound = r() < 0.5;
    const n = 1 + Math.floor(r() * 3);
    const script = Array.from({ length: n }, () => [{ fromClient: true, flags: 0, payload: 30 + Math.floor(r() * 40) }, { fromClient: false, flags: 0, payload: 50 + Math.floor(r() * 400) }]).flat();
    return { ...base, protocol: UDP, client: inbound ? other : local, server: inbound ? local : other, serverPort: r() < 0.7 ? 53 : 1024 + Math.floor(r() * 60000), script };
  }
  const inbound = r() < 0.6;
  const n = 1 + Math.floor(r() * 4);
  const script = Array.from({ length: n }, () => [{ fromClient: true, flags: 0, payload: 56, icmpType: six ? 128 : 8 }, { fromClient: false, flags: 0, payload: 56, icmpType: six ? 129 : 0 }]).flat();
  return { ...base, protocol: six ? ICMP6 : ICMP, client: inbound ? other : local, server: inbound ? local : other, serverPort: 0, script };
}

/** The direction rule (docs/SEMANTICS.md) + the reference matcher: 1 if the policy accepts this packet as a new flow. */
function statelessVerdict(config: Config, instance: string, c: Connection, fromClient: boolean): number {
  const src = fromClient ? c.client : c.server;
  const dst = fromClient ? c.server : c.client;
  const isLocal = (e: Endpoint) => e === LOCAL4 || e === LOCAL6;
  let direction: 'inbound' | 'outbound';
  let peer: Endpoint;
  if (isLocal(dst)) {
    direction = 'inbound';
    peer = src;
  } else if (isLocal(src)) {
    direction = 'outbound';
    peer = dst;
  } else {
    return 0;
  }
  const flow: FlowInput = { direction, protocol: c.protocol, remote: peer.text, instance };
  if (c.protocol === TCP || c.protocol === UDP) flow.port = fromClient ? c.serverPort : c.clientPort;
  const step = c.script[c.next]!;
  if (step.icmpType !== undefined) {
    flow.icmpType = step.icmpType;
    flow.icmpCode = 0;
  }
  return referenceClassify(config, parseFlow(flow)).action === 'accept' ? 1 : 0;
}

const ETHER = 14;
const SLL2 = 20;

/** Writes one packet at data[at..]; returns its length. */
function build(data: Uint8Array, at: number, c: Connection, step: Connection['script'][number], linkType: number): number {
  const src = step.fromClient ? c.client : c.server;
  const dst = step.fromClient ? c.server : c.client;
  const sport = step.fromClient ? c.clientPort : c.serverPort;
  const dport = step.fromClient ? c.serverPort : c.clientPort;
  const l2 = linkType === LINKTYPE_ETHERNET ? ETHER : linkType === LINKTYPE_LINUX_SLL2 ? SLL2 : 0;
  const ipHeader = src.v6 ? 40 : 20;
  const l4 = c.protocol === TCP ? 20 : 8;
  const total = l2 + ipHeader + l4 + step.payload;
  data.fill(0, at, at + total);
  const ethertype = src.v6 ? 0x86dd : 0x0800;
  if (linkType === LINKTYPE_ETHERNET) {
    data.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2], at);
    data[at + 12] = ethertype >> 8;
    data[at + 13] = ethertype & 0xff;
  } else if (linkType === LINKTYPE_LINUX_SLL2) {
    data[at] = ethertype >> 8;
    data[at + 1] = ethertype & 0xff;
    data[at + 7] = 2; // interface index
    data[at + 9] = 1; // ARPHRD_ETHER
    data[at + 10] = step.fromClient ? 0 : 4;
    data[at + 11] = 6;
  }
  let p = at + l2;
  const ipLength = ipHeader + l4 + step.payload;
  if (!src.v6) {
    data[p] = 0x45;
    data[p + 2] = ipLength >> 8;
    data[p + 3] = ipLength & 0xff;
    data[p + 6] = 0x40; // DF
    data[p + 8] = 64;
    data[p + 9] = c.protocol;
    data.set(src.addr, p + 12);
    data.set(dst.addr, p + 16);
  } else {
    data[p] = 0x60;
    const plen = l4 + step.payload;
    data[p + 4] = plen >> 8;
    data[p + 5] = plen & 0xff;
    data[p + 6] = c.protocol;
    data[p + 7] = 64;
    data.set(src.addr, p + 8);
    data.set(dst.addr, p + 24);
  }
  p += ipHeader;
  if (c.protocol === TCP || c.protocol === UDP) {
    data[p] = sport >> 8;
    data[p + 1] = sport & 0xff;
    data[p + 2] = dport >> 8;
    data[p + 3] = dport & 0xff;
    if (c.protocol === TCP) {
      data[p + 12] = 0x50;
      data[p + 13] = step.flags;
      data[p + 14] = 0xff;
    } else {
      const ulen = 8 + step.payload;
      data[p + 4] = ulen >> 8;
      data[p + 5] = ulen & 0xff;
    }
  } else {
    data[p] = step.icmpType!;
    data[p + 4] = c.clientPort >> 8; // echo identifier
    data[p + 5] = c.clientPort & 0xff;
  }
  return total;
}

/**
 * Writes the capture to `path` and returns it with each packet's stateless verdict
 * under `config` (instance `instance`).
 */
export function generateCapture(path: string, options: TrafficOptions, config: Config, instance: string): GeneratedCapture {
  const r = mulberry32(options.seed);
  const mixed = options.mixed ?? false;
  const linkTypes = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL2];
  const encoder = createCaptureEncoder({ format: mixed ? 'pcapng' : 'pcap', precision: 'micro', linkType: mixed ? undefined : LINKTYPE_ETHERNET });
  const batch = new CaptureBatch(8192);
  batch.data = new Uint8Array(8192 * 1600);
  const accepted = new Uint8Array(options.packets);
  const fd = openSync(path, 'w');
  const open: Connection[] = [];
  let usec = 0;
  let bytes = 0;
  let at = 0;
  const flush = () => {
    const out = encoder.encode(batch);
    writeSync(fd, out);
    bytes += out.length;
    batch.firstPacketIndex += batch.count;
    batch.count = 0;
    at = 0;
  };
  try {
    for (let n = 0; n < options.packets; n++) {
      if (open.length < 200 || (open.length < 2000 && r() < 0.08)) open.push(newConnection(r, mixed));
      const k = Math.floor(r() * open.length);
      const c = open[k]!;
      const step = c.script[c.next]!;
      const fromClient = step.fromClient;
      let v = fromClient ? c.verdictFromClient : c.verdictFromServer;
      if (v < 0 || step.icmpType !== undefined) {
        v = statelessVerdict(config, instance, c, fromClient);
        if (fromClient) c.verdictFromClient = v;
        else c.verdictFromServer = v;
      }
      accepted[n] = v;
      const i = batch.count;
      const linkType = linkTypes[c.iface]!;
      const len = build(batch.data, at, c, step, linkType);
      usec += 1 + Math.floor(r() * 20);
      batch.offsets[i] = at;
      batch.capturedLengths[i] = len;
      batch.originalLengths[i] = len;
      batch.timestampSeconds[i] = 1_700_000_000 + Math.floor(usec / 1e6);
      batch.timestampNanoseconds[i] = (usec % 1e6) * 1000;
      batch.linkTypes[i] = linkType;
      batch.interfaceIds[i] = c.iface;
      batch.count = i + 1;
      at += len;
      if (++c.next === c.script.length) {
        open[k] = open[open.length - 1]!;
        open.pop();
      }
      if (batch.count === batch.capacity) flush();
    }
    flush();
    const tail = encoder.finish();
    writeSync(fd, tail);
    bytes += tail.length;
  } finally {
    closeSync(fd);
  }
  return { path, packets: options.packets, bytes, accepted, format: mixed ? 'pcapng' : 'pcap' };
}
