/**
 * Generated traffic for bench/packets.bench.ts: one instance behind the cloud policy
 * (bench/cloud-policy.ts) with many concurrent conversations, IPv4 and IPv6, as
 * Ethernet frames (some 802.1Q-tagged) in one buffer, seeded so runs compare.
 *
 * Conversations are aimed with the cloud bench's flow mix (rule peers and ports, both
 * directions) and shaped by what the policy says of their opening flow: an accepted
 * TCP opening is a handshake, data both ways and a FIN close; a dropped one is a SYN
 * and two retransmissions; UDP is a request and a few answers; ICMP echo a few
 * request/reply pairs. Conversations run concurrently (the next packet comes from a
 * random live conversation), 1 µs apart.
 */
import type { ConfigInput, Engine, FlowInput } from '../src/index.js';
import { createFlowBatch } from '../src/index.js';
import { mulberry32, type Rng } from '../test/random.js';
import { CLOUD_INSTANCE, cloudFlows, type RuleAim } from './cloud-policy.js';

/** The instance's own addresses in the benchmark (added to the cloud policy's instance). */
export const BENCH_LOCAL = ['10.200.0.0/16', 'fd00:ffff::/64'];

export function withAddresses(doc: ConfigInput): ConfigInput {
  return { ...doc, instances: (doc.instances ?? []).map((i) => (i.id === CLOUD_INSTANCE ? { ...i, addresses: BENCH_LOCAL } : i)) };
}

export interface Traffic {
  bytes: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  timestamps: Float64Array;
  packets: number;
  conversations: number;
  mix: { tcpAccepted: number; tcpDropped: number; udp: number; echo: number; v6: number };
}

const SYN = 2;
const ACK = 16;
const FIN = 1;
const PSH = 8;

interface Conversation {
  v6: boolean;
  proto: number;
  local: Uint8Array;
  remote: Uint8Array;
  /** Opener's source and destination ports (echo: identifier in sport). */
  sport: number;
  dport: number;
  openerLocal: boolean;
  /** Remaining steps: [fromOpener, tcp flags or icmp type, payload bytes]. */
  steps: [boolean, number, number][];
}

function addressBytes(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const [head, tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, k) => {
    const v = parseInt(g || '0', 16);
    out[2 * k] = v >> 8;
    out[2 * k + 1] = v & 255;
  });
  return out;
}

/**
 * `typical`: TCP conversations carry 4 to 400 data packets (log-uniform: many short,
 * a few long, as captures show); `short`: 4 to 28 (DNS-like, new flows in every
 * few packets).
 */
export type TrafficProfile = 'typical' | 'short';

function steps(r: Rng, proto: number, accepted: boolean, profile: TrafficProfile): [boolean, number, number][] {
  const out: [boolean, number, number][] = [];
  const data = () => Math.floor(r() * 17);
  if (proto === 6) {
    if (!accepted) return [[true, SYN, 0], [true, SYN, 0]];
    out.push([false, SYN | ACK, 0], [true, ACK, 0]);
    const n = profile === 'short' ? 4 + Math.floor(r() * 24) : Math.floor(4 * 100 ** r());
    for (let k = 0; k < n; k++) out.push([r() < 0.5, ACK | PSH, data()]);
    out.push([true, FIN | ACK, 0], [false, FIN | ACK, 0], [true, ACK, 0]);
  } else if (proto === 17) {
    const n = 1 + Math.floor(r() * 6);
    for (let k = 0; k < n; k++) out.push([k % 2 === 1, 0, 8 + data()]);
  } else {
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < 2 * n - 1; k++) out.push([k % 2 === 1, k % 2 === 1 ? 0 : 8, 8]);
  }
  return out;
}

/**
 * About `packets` packets of `live` concurrent conversations. The opening flow of each
 * conversation is classified with `engine` first (so dropped openings look like real
 * retries, not like conversations).
 */
export function generateTraffic(engine: Engine, aims: RuleAim[], packets: number, live: number, profile: TrafficProfile = 'typical', seed = 12): Traffic {
  const r = mulberry32(seed);
  // Opening flows: the cloud mix, as TCP (60%), UDP (25%) or echo (15%).
  const flows: FlowInput[] = cloudFlows(aims, Math.ceil(packets / 6), seed).map((f) => {
    const x = r();
    const protocol = x < 0.6 ? 'TCP' : x < 0.85 ? 'UDP' : f.remote.includes(':') ? 'ICMPv6' : 'ICMP';
    const out: FlowInput = { direction: f.direction, protocol, remote: f.remote, instance: CLOUD_INSTANCE };
    if (protocol === 'TCP' || protocol === 'UDP') out.port = f.port ?? 443;
    else out.icmpType = protocol === 'ICMP' ? 8 : 128;
    return out;
  });
  const batch = createFlowBatch(flows);
  const accepted = engine.classifyBatch(batch);
  const mix = { tcpAccepted: 0, tcpDropped: 0, udp: 0, echo: 0, v6: 0 };
  let next = 0;
  const start = (): Conversation | null => {
    if (next >= flows.length) return null;
    const k = next++;
    const f = flows[k]!;
    const v6 = f.remote.includes(':');
    const proto = f.protocol === 'TCP' ? 6 : f.protocol === 'UDP' ? 17 : v6 ? 58 : 1;
    const local = v6 ? addressBytes(`fd00:ffff::${(k >>> 16).toString(16)}:${(k & 0xffff).toString(16)}`) : Uint8Array.from([10, 200, (k >>> 8) & 255, k & 255]);
    const ok = accepted[k] === 1;
    if (proto === 6) mix[ok ? 'tcpAccepted' : 'tcpDropped']++;
    else if (proto === 17) mix.udp++;
    else mix.echo++;
    if (v6) mix.v6++;
    const openerLocal = f.direction === 'outbound';
    const ephemeral = 1024 + Math.floor(r() * 60000);
    const first: [boolean, number, number] = proto === 6 ? [true, SYN, 0] : proto === 17 ? [true, 0, 12] : [true, 8, 8];
    return {
      v6, proto, local, remote: addressBytes(f.remote), openerLocal,
      sport: proto === 6 || proto === 17 ? ephemeral : k & 0xffff,
      dport: Number(f.port ?? 0),
      steps: [first, ...steps(r, proto, ok || proto !== 6, profile)],
    };
  };

  const bytes = new Uint8Array(packets * 100);
  const view = new DataView(bytes.buffer);
  const offsets = new Uint32Array(packets);
  const lengths = new Uint32Array(packets);
  const timestamps = new Float64Array(packets);
  const active: Conversation[] = [];
  for (let k = 0; k < live; k++) {
    const c = start();
    if (c) active.push(c);
  }
  let at = 0;
  let n = 0;
  let t = 1_700_000_000;
  while (n < packets && active.length) {
    const i = Math.floor(r() * active.length);
    const c = active[i]!;
    const [fromOpener, flags, payload] = c.steps.shift()!;
    const fromLocal = fromOpener === c.openerLocal;
    const src = fromLocal ? c.local : c.remote;
    const dst = fromLocal ? c.remote : c.local;
    const sport = fromOpener ? c.sport : c.dport;
    const dport = fromOpener ? c.dport : c.sport;
    offsets[n] = at;
    timestamps[n] = t += 1e-6;
    const frame = at;
    at += 12; // MAC addresses
    if (n % 10 === 0) {
      view.setUint16(at, 0x8100);
      view.setUint16(at + 2, 100);
      at += 4;
    }
    view.setUint16(at, c.v6 ? 0x86dd : 0x0800);
    at += 2;
    const l4len = c.proto === 6 ? 20 + payload : 8 + payload;
    if (!c.v6) {
      view.setUint8(at, 0x45);
      view.setUint16(at + 2, 20 + l4len);
      view.setUint8(at + 8, 64);
      view.setUint8(at + 9, c.proto);
      bytes.set(src, at + 12);
      bytes.set(dst, at + 16);
      at += 20;
    } else {
      view.setUint8(at, 0x60);
      view.setUint16(at + 4, l4len);
      view.setUint8(at + 6, c.proto);
      view.setUint8(at + 7, 64);
      bytes.set(src, at + 8);
      bytes.set(dst, at + 24);
      at += 40;
    }
    if (c.proto === 6 || c.proto === 17) {
      view.setUint16(at, sport);
      view.setUint16(at + 2, dport);
      if (c.proto === 6) {
        view.setUint8(at + 12, 0x50);
        view.setUint8(at + 13, flags);
      } else view.setUint16(at + 4, l4len);
    } else {
      const reply = !fromOpener;
      view.setUint8(at, c.proto === 1 ? (reply ? 0 : 8) : reply ? 129 : 128);
      view.setUint16(at + 4, c.sport);
    }
    at += l4len;
    lengths[n] = at - frame;
    n++;
    if (c.steps.length === 0) {
      const fresh = start();
      if (fresh) active[i] = fresh;
      else active.splice(i, 1);
    }
  }
  return { bytes: bytes.subarray(0, at), offsets: offsets.subarray(0, n), lengths: lengths.subarray(0, n), timestamps: timestamps.subarray(0, n), packets: n, conversations: next, mix };
}
