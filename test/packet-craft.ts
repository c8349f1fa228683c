/**
 * Builds packets byte by byte for the packet-path tests: IPv4 (options, fragments),
 * IPv6 (extension headers, fragment header), TCP, UDP, ICMP/ICMPv6 (echo, errors with
 * a quoted packet), and the link layers sgfilter reads. Checksums are left zero (the
 * filter does not verify them, SPEC §8). Plain code, no cleverness: fields are written
 * where RFC 791/8200/793/768/792/4443 put them.
 */
import ipaddr from 'ipaddr.js';

export const LINK = { NULL: 0, ETHERNET: 1, RAW: 101, SLL: 113, IPV4: 228, IPV6: 229, SLL2: 276 } as const;

export function addressBytes(text: string): number[] {
  return ipaddr.parse(text).toByteArray();
}

const be16 = (v: number): number[] => [(v >>> 8) & 255, v & 255];
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

export const TCP_FLAGS = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export interface TcpSpec {
  sport: number;
  dport: number;
  flags: number;
  /** Data offset in 32-bit words (default 5, or more with options). */
  doff?: number;
  options?: number[];
  payload?: number[];
}

export function tcp(t: TcpSpec): Uint8Array {
  const options = t.options ?? [];
  const doff = t.doff ?? 5 + Math.ceil(options.length / 4);
  const opts = [...options];
  while (opts.length % 4) opts.push(0);
  return Uint8Array.from([
    ...be16(t.sport), ...be16(t.dport), ...be32(1000), ...be32(t.flags & TCP_FLAGS.ACK ? 2000 : 0),
    (doff & 15) << 4, t.flags & 255, ...be16(65535), 0, 0, 0, 0, ...opts, ...(t.payload ?? []),
  ]);
}

export interface UdpSpec {
  sport: number;
  dport: number;
  payload?: number[];
  /** Length field to write instead of the true one (malformed packets). */
  length?: number;
}

export function udp(u: UdpSpec): Uint8Array {
  const payload = u.payload ?? [];
  return Uint8Array.from([...be16(u.sport), ...be16(u.dport), ...be16(u.length ?? 8 + payload.length), 0, 0, ...payload]);
}

export interface IcmpSpec {
  type: number;
  code?: number;
  /** Echo identifier and sequence (bytes 4-7); for other types the 4 "rest of header" bytes. */
  id?: number;
  seq?: number;
  /** Data after the 8-byte header: for errors, the quoted packet. */
  data?: Uint8Array | number[];
}

export function icmp(i: IcmpSpec): Uint8Array {
  return Uint8Array.from([i.type & 255, (i.code ?? 0) & 255, 0, 0, ...be16(i.id ?? 0), ...be16(i.seq ?? 0), ...(i.data ?? [])]);
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Uint8Array | number[];
  id?: number;
  /** More-fragments flag and fragment offset (in 8-byte units). */
  mf?: boolean;
  fragOffset?: number;
  /** IPv4 options (padded to 4 bytes). */
  options?: number[];
  /** Overrides for malformed packets. */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

export function ipv4(p: Ipv4Spec): Uint8Array {
  const opts = [...(p.options ?? [])];
  while (opts.length % 4) opts.push(0);
  const ihl = p.ihl ?? 5 + opts.length / 4;
  const payload = [...p.payload];
  const total = p.totalLength ?? 20 + opts.length + payload.length;
  const ff = ((p.mf ? 1 : 0) << 13) | ((p.fragOffset ?? 0) & 0x1fff);
  return Uint8Array.from([
    ((p.version ?? 4) << 4) | (ihl & 15), 0, ...be16(total), ...be16(p.id ?? 0), ...be16(ff), 64, p.proto & 255, 0, 0,
    ...addressBytes(p.src), ...addressBytes(p.dst), ...opts, ...payload,
  ]);
}

/** An IPv6 extension header: generic (hop-by-hop 0, routing 43, destination options 60), AH (51), or fragment (44). */
export type Ext =
  | { type: 0 | 43 | 60; /** total length in bytes, a multiple of 8, ≥ 8 */ length?: number }
  | { type: 51; /** total length in bytes, a multiple of 4, ≥ 8 */ length?: number }
  | { type: 44; offset: number; more: boolean; id: number };

export interface Ipv6Spec {
  src: string;
  dst: string;
  /** The upper-layer protocol after the extension headers. */
  proto: number;
  payload: Uint8Array | number[];
  ext?: Ext[];
  version?: number;
  payloadLength?: number;
}

export function ipv6(p: Ipv6Spec): Uint8Array {
  const ext = p.ext ?? [];
  const chain: number[] = [];
  ext.forEach((e, k) => {
    const next = k + 1 < ext.length ? ext[k + 1]!.type : p.proto;
    if (e.type === 44) {
      chain.push(next, 0, ...be16(((e.offset & 0x1fff) << 3) | (e.more ? 1 : 0)), ...be32(e.id));
    } else if (e.type === 51) {
      const len = e.length ?? 12;
      chain.push(next, len / 4 - 2, ...new Array<number>(len - 2).fill(0));
    } else {
      const len = e.length ?? 8;
      chain.push(next, len / 8 - 1, ...new Array<number>(len - 2).fill(e.type === 0 || e.type === 60 ? 1 : 0));
    }
  });
  const body = [...chain, ...p.payload];
  const first = ext.length ? ext[0]!.type : p.proto;
  return Uint8Array.from([
    ((p.version ?? 6) << 4), 0, 0, 0, ...be16(p.payloadLength ?? body.length), first, 64,
    ...addressBytes(p.src), ...addressBytes(p.dst), ...body,
  ]);
}

export interface Vlan {
  tpid: 0x8100 | 0x88a8;
  vid: number;
}

export function ethernet(ip: Uint8Array, etherType: number, vlans: Vlan[] = []): Uint8Array {
  // dst mac, src mac, then each tag's TPID+TCI, then the inner EtherType.
  const head: number[] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  if (vlans.length === 0) return Uint8Array.from([...head, ...be16(etherType), ...ip]);
  const out = [...head];
  vlans.forEach((v) => out.push(...be16(v.tpid), ...be16(v.vid & 0xfff)));
  return Uint8Array.from([...out, ...be16(etherType), ...ip]);
}

export function sll(ip: Uint8Array, protocol: number): Uint8Array {
  // packet type (0 = to us), ARPHRD_ETHER, address length 6, address (8 bytes), protocol.
  return Uint8Array.from([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...be16(protocol), ...ip]);
}

export function sll2(ip: Uint8Array, protocol: number): Uint8Array {
  // protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address.
  return Uint8Array.from([...be16(protocol), 0, 0, ...be32(2), ...be16(1), 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...ip]);
}

/** BSD loopback: the address family as a 4-byte integer in the capturing host's byte order. */
export function nullLoopback(ip: Uint8Array, family: number, bigEndian = false): Uint8Array {
  const f = bigEndian ? be32(family) : be32(family).reverse();
  return Uint8Array.from([...f, ...ip]);
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_ARP = 0x0806;
