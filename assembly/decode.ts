// Packet decoding (SPEC §8): link layer → IP → transport, for one chunk of packets.
//
// Every read is checked against the packet's captured length first; a packet whose
// headers cannot be read completely is MALFORMED and nothing is guessed. The result
// of each packet is written to the chunk arrays below: its flow in the classifier's
// BATCH form (./layout.ts, ./classify.ts Batch), the key of its connection, and for
// ICMP errors the key of the connection its quoted header belongs to.
//
// Choices where the SPEC is silent are listed in docs/DESIGN.md §9 (Linux's when it
// has one): VLAN TPIDs 0x8100 and 0x88a8 only; BSD loopback families 2 (IPv4) and
// 24/28/30 (IPv6), in either byte order (as tcpdump reads them); IPv4 AH is protocol
// 51 (only IPv6 walks AH); a hop-by-hop header anywhere but first, or a second
// fragment header, is MALFORMED (RFC 8200, Linux); TCP needs 20 bytes and its data
// offset, UDP 8 bytes and a length within the packet, ICMP 8 bytes — a first
// fragment only the ports (TCP: and flags, 14 bytes; UDP 4; ICMP 8, RFC 1858).
import {
  LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_IPV4, LINKTYPE_IPV6,
  REASON_MALFORMED, REASON_NOT_IP, REASON_NOT_LOCAL, CONN_KEY_ECHO,
  TRK_LOCAL4_AT, TRK_LOCAL4_COUNT_AT, TRK_LOCAL6_AT, TRK_LOCAL6_COUNT_AT, RANGE4_SIZE, RANGE6_SIZE,
} from "./packet-layout";
import {
  META_OUTBOUND, META_REMOTE_V6, META_LOCAL_PRESENT, META_LOCAL_V6, PORT_ABSENT, ICMP_ABSENT, ICMP_CODE_SHIFT,
} from "./layout";

/** Packets decoded, probed and classified together (the chunk arrays' length). */
export const CHUNK: u32 = 1024;

// ---- Chunk arrays (static; no allocation) ----
// The packet's flow, as the classifier reads it.
export const F_META: usize = memory.data(CHUNK * 4, 16);
export const F_REMOTE: usize = memory.data(CHUNK * 16, 16);
export const F_LOCAL: usize = memory.data(CHUNK * 16, 16);
export const F_PROTO: usize = memory.data(CHUNK * 4, 16);
export const F_PORT: usize = memory.data(CHUNK * 4, 16);
export const F_SPORT: usize = memory.data(CHUNK * 4, 16);
export const F_ICMP: usize = memory.data(CHUNK * 4, 16);
/** PROCEED, or the packet's final reason (MALFORMED, NOT_IP, NOT_LOCAL). */
export const P_REASON: usize = memory.data(CHUNK);
/** K_* bits. */
export const P_KIND: usize = memory.data(CHUNK);
/** TCP flags (FIN 1, SYN 2, RST 4, ACK 16); 0 for other protocols. */
export const P_TCP: usize = memory.data(CHUNK);
/** Connection key ports: local | remote << 16 (ICMP echo: identifier << 16). */
export const P_PORTS: usize = memory.data(CHUNK * 4, 16);
/** Fragment key: identification, and the protocol of the key (see packet-layout FRAG). */
export const P_FRAG_ID: usize = memory.data(CHUNK * 4, 16);
export const P_FRAG_PROTO: usize = memory.data(CHUNK);
/** ICMP errors: the quoted header's connection key (valid with K_QUOTE). */
export const Q_LOCAL: usize = memory.data(CHUNK * 16, 16);
export const Q_REMOTE: usize = memory.data(CHUNK * 16, 16);
export const Q_PORTS: usize = memory.data(CHUNK * 4, 16);
export const Q_PROTO: usize = memory.data(CHUNK);
/**
 * Family byte of the connection key (packet-layout CONN +37): bit 0 IPv6, bit 1
 * CONN_KEY_ECHO. P_KEYFAM for the packet's own key, Q_KEYFAM for the quoted one's.
 */
export const P_KEYFAM: usize = memory.data(CHUNK);
export const Q_KEYFAM: usize = memory.data(CHUNK);

export const PROCEED: u8 = 0xff;
export const K_V6: u32 = 1;
export const K_FIRST = 2; // first fragment (offset 0, more fragments)
export const K_LATER = 4; // a later fragment (offset > 0): no transport header
export const K_ERROR = 8; // ICMP/ICMPv6 error (SPEC §7's four kinds)
export const K_QUOTE = 16; // its quoted header names a connection (Q_*)
export const K_BOTH = 32; // source and destination are both the instance's
export const K_QBOTH = 64; // … both quoted addresses are
export const K_OUTBOUND = 128;

export const TCP_FIN: u32 = 1;
export const TCP_SYN: u32 = 2;
export const TCP_RST: u32 = 4;
export const TCP_ACK: u32 = 16;

const TCP: u32 = 6;
const UDP: u32 = 17;
const ICMP: u32 = 1;
const ICMPV6: u32 = 58;

// Source and destination of the packet being decoded, as classifier words.
const SRC: usize = memory.data(16, 16);
const DST: usize = memory.data(16, 16);
const QSRC: usize = memory.data(16, 16);
const QDST: usize = memory.data(16, 16);

@inline function u8at(p: usize): u32 {
  return <u32>load<u8>(p);
}
@inline function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}
@inline function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

/** True when the 4 words at `a` are an IPv4-mapped IPv6 address (::ffff:0:0/96). */
@inline function mapped(a: usize): bool {
  return load<u32>(a) == 0 && load<u32>(a, 4) == 0 && load<u32>(a, 8) == 0xffff;
}

@inline function sameAddress(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}

/** Is IPv4 address x one of the instance's own? Binary search of the ranges. */
@inline function isLocal4(st: usize, x: u32): bool {
  const base = <usize>load<u32>(st + TRK_LOCAL4_AT);
  let lo: u32 = 0;
  let hi = load<u32>(st + TRK_LOCAL4_COUNT_AT);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (load<u32>(base + <usize>mid * RANGE4_SIZE) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo != 0 && x <= load<u32>(base + <usize>(lo - 1) * RANGE4_SIZE, 4);
}

/** Is the address (4 words at `a`) one of the instance's own? Binary search of the ranges. */
@inline export function isLocal(st: usize, a: usize, v6: bool): bool {
  if (!v6) return isLocal4(st, load<u32>(a));
  const xh = (<u64>load<u32>(a) << 32) | <u64>load<u32>(a, 4);
  const xl = (<u64>load<u32>(a, 8) << 32) | <u64>load<u32>(a, 12);
  const base = <usize>load<u32>(st + TRK_LOCAL6_AT);
  let lo: u32 = 0;
  let hi = load<u32>(st + TRK_LOCAL6_COUNT_AT);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = base + <usize>mid * RANGE6_SIZE;
    const rh = load<u64>(r);
    if (rh < xh || (rh == xh && load<u64>(r, 8) <= xl)) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return false;
  const r = base + <usize>(lo - 1) * RANGE6_SIZE;
  const hh = load<u64>(r, 16);
  return xh < hh || (xh == hh && xl <= load<u64>(r, 24));
}

@inline function isIcmpError(v6: bool, type: u32): bool {
  // Destination unreachable, packet too big (v6), time exceeded, parameter problem.
  return v6 ? type >= 1 && type <= 4 : type == 3 || type == 11 || type == 12;
}

@inline function isEcho(v6: bool, type: u32): bool {
  return v6 ? type == 128 || type == 129 : type == 8 || type == 0;
}

@inline function copyWords(to: usize, from: usize): void {
  store<u64>(to, load<u64>(from));
  store<u64>(to, load<u64>(from, 8), 8);
}

// Result of walking an IPv6 extension-header chain (walk6).
let wProto: u32 = 0;
let wOff: u32 = 0;
let wFrag: u32 = 0; // 0 none or atomic, 1 first fragment, 2 later fragment
let wFragId: u32 = 0;
let wFragProto: u32 = 0;

/**
 * Walks the extension headers (hop-by-hop first only, routing, destination options,
 * AH, one fragment header) from `off` with next header `nh`, within [.., end).
 * Returns false when a header does not fit or breaks the chain's rules.
 */
function walk6(p: usize, off: u32, end: u32, nh: u32): bool {
  let first = true;
  let fragSeen = false;
  wFrag = 0;
  while (true) {
    if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
      if (nh == 0 && !first) return false;
      if (off + 8 > end) return false;
      const hlen: u32 = nh == 51 ? (u8at(p + off + 1) + 2) << 2 : (u8at(p + off + 1) + 1) << 3;
      if (off + hlen > end) return false;
      nh = u8at(p + off);
      off += hlen;
    } else if (nh == 44) {
      if (fragSeen) return false;
      fragSeen = true;
      if (off + 8 > end) return false;
      const next = u8at(p + off);
      const fo = be16(p + off + 2);
      wFragId = be32(p + off + 4);
      wFragProto = next;
      off += 8;
      nh = next;
      if ((fo >> 3) != 0) {
        wFrag = 2;
        break;
      }
      if (fo & 1) wFrag = 1;
    } else break;
    first = false;
  }
  wProto = nh;
  wOff = off;
  return true;
}

/**
 * Reads the quoted header of an ICMP error in [q, qend) and, when it names a
 * connection of the instance, writes its key to Q_*[i]. The quote is the start of a
 * packet the error is about, usually truncated, so its length fields are not checked;
 * anything unreadable means "names no connection" (the error goes to the rules).
 */
function decodeQuote(st: usize, p: usize, q: u32, qend: u32, v6: bool, i: u32): bool {
  let qp: u32;
  let t: u32;
  if (!v6) {
    if (q + 20 > qend) return false;
    const b0 = u8at(p + q);
    if ((b0 >> 4) != 4) return false;
    const ihl = (b0 & 15) << 2;
    if (ihl < 20) return false;
    if ((be16(p + q + 6) & 0x1fff) != 0) return false; // a later fragment: no ports
    qp = u8at(p + q + 9);
    store<u64>(QSRC, <u64>be32(p + q + 12));
    store<u64>(QSRC, 0, 8);
    store<u64>(QDST, <u64>be32(p + q + 16));
    store<u64>(QDST, 0, 8);
    t = q + ihl;
  } else {
    if (q + 40 > qend) return false;
    if ((u8at(p + q) >> 4) != 6) return false;
    for (let k: u32 = 0; k < 4; k++) {
      store<u32>(QSRC + (<usize>k << 2), be32(p + q + 8 + (k << 2)));
      store<u32>(QDST + (<usize>k << 2), be32(p + q + 24 + (k << 2)));
    }
    if (mapped(QSRC) || mapped(QDST)) return false;
    if (!walk6(p, q + 40, qend, u8at(p + q + 6))) return false;
    if (wFrag == 2) return false;
    qp = wProto;
    t = wOff;
  }
  if (t + 8 > qend) return false;
  // Linux (nf_conntrack_inet_error): an error goes back to the quoted packet's
  // sender, so the outer destination must be the quoted source.
  if (!sameAddress(DST, QSRC)) return false;
  const dstLocal = isLocal(st, QDST, v6);
  const srcLocal = isLocal(st, QSRC, v6);
  if (!dstLocal && !srcLocal) return false;
  let ports: u32 = 0;
  let qfam: u32 = v6 ? 1 : 0;
  if (qp == TCP || qp == UDP) {
    const sp = be16(p + t);
    const dp = be16(p + t + 2);
    ports = dstLocal ? dp | (sp << 16) : sp | (dp << 16);
  } else if (qp == (v6 ? ICMPV6 : ICMP)) {
    const type = u8at(p + t);
    if (isIcmpError(v6, type)) return false; // errors are never connections
    if (isEcho(v6, type)) {
      ports = be16(p + t + 4) << 16;
      qfam |= CONN_KEY_ECHO;
    }
  }
  const at = <usize>i << 4;
  copyWords(Q_LOCAL + at, dstLocal ? QDST : QSRC);
  copyWords(Q_REMOTE + at, dstLocal ? QSRC : QDST);
  store<u32>(Q_PORTS + (<usize>i << 2), ports);
  store<u8>(Q_PROTO + <usize>i, <u8>qp);
  store<u8>(Q_KEYFAM + <usize>i, <u8>qfam);
  return true;
}

@inline export function finish(i: u32, reason: u32, kind: u32): void {
  store<u8>(P_REASON + <usize>i, <u8>reason);
  store<u8>(P_KIND + <usize>i, <u8>kind);
}

/**
 * Decodes the packet at `p` (`len` captured bytes, link type `link`) into chunk slot i.
 * Direction (SPEC §7): to one of the instance's addresses is inbound, from one
 * outbound, both inbound, neither NOT_LOCAL. A malformed packet is MALFORMED even
 * when it is not the instance's: it is decoded completely before it is placed.
 */
export function decodePacket(st: usize, p: usize, len: u32, link: u32, i: u32): void {
  store<u8>(P_TCP + <usize>i, 0);
  // ---- Link layer: where the IP header starts, and which version it must be.
  let at: u32 = 0;
  let want: u32 = 0; // 0: read the version nibble (raw IP)
  let type: u32 = 0xffffffff; // an EtherType to dispatch, if the link layer has one
  if (link == LINKTYPE_ETHERNET) {
    if (len < 14) return finish(i, REASON_MALFORMED, 0);
    type = be16(p + 12);
    at = 14;
  } else if (link == LINKTYPE_LINUX_SLL) {
    if (len < 16) return finish(i, REASON_MALFORMED, 0);
    type = be16(p + 14);
    at = 16;
  } else if (link == LINKTYPE_LINUX_SLL2) {
    if (len < 20) return finish(i, REASON_MALFORMED, 0);
    type = be16(p);
    at = 20;
  } else if (link == LINKTYPE_NULL) {
    if (len < 4) return finish(i, REASON_MALFORMED, 0);
    let family = load<u32>(p); // host byte order of the machine that captured
    if ((family & 0xffff0000) != 0) family = bswap<u32>(family);
    if (family == 2) want = 4;
    else if (family == 24 || family == 28 || family == 30) want = 6;
    else return finish(i, REASON_NOT_IP, 0);
    at = 4;
  } else if (link == LINKTYPE_RAW) {
    want = 0;
  } else if (link == LINKTYPE_IPV4) {
    want = 4;
  } else if (link == LINKTYPE_IPV6) {
    want = 6;
  } else {
    return finish(i, REASON_NOT_IP, 0);
  }
  if (type != 0xffffffff) {
    while (type == 0x8100 || type == 0x88a8) {
      if (at + 4 > len) return finish(i, REASON_MALFORMED, 0);
      type = be16(p + at + 2);
      at += 4;
    }
    if (type == 0x0800) want = 4;
    else if (type == 0x86dd) want = 6;
    else return finish(i, REASON_NOT_IP, 0);
  }

  // ---- IP header.
  if (at >= len) return finish(i, REASON_MALFORMED, 0);
  const ip = p + at;
  const version = u8at(ip) >> 4;
  if (want == 0) {
    if (version != 4 && version != 6) return finish(i, REASON_MALFORMED, 0);
    want = version;
  } else if (version != want) {
    return finish(i, REASON_MALFORMED, 0);
  }
  const avail = len - at;
  const v6 = want == 6;
  let kind: u32 = v6 ? K_V6 : 0;
  let proto: u32;
  let s4: u32 = 0; // IPv4 source and destination
  let d4: u32 = 0;
  let broken = false; // the IPv6 header chain of a first fragment does not fit
  let l4: u32; // transport header, from the packet's start
  let end: u32; // end of the IP packet (its length field; trailing bytes are link padding)
  if (!v6) {
    if (avail < 20) return finish(i, REASON_MALFORMED, 0);
    const ihl = (u8at(ip) & 15) << 2;
    if (ihl < 20 || ihl > avail) return finish(i, REASON_MALFORMED, 0);
    const total = be16(ip + 2);
    if (total < ihl || total > avail) return finish(i, REASON_MALFORMED, 0);
    end = at + total;
    const ff = be16(ip + 6);
    proto = u8at(ip + 9);
    if ((ff & 0x1fff) != 0) kind |= K_LATER;
    else if (ff & 0x2000) kind |= K_FIRST;
    store<u32>(P_FRAG_ID + (<usize>i << 2), be16(ip + 4));
    store<u8>(P_FRAG_PROTO + <usize>i, <u8>proto);
    s4 = be32(ip + 12);
    d4 = be32(ip + 16);
    store<u64>(SRC, <u64>s4);
    store<u64>(SRC, 0, 8);
    store<u64>(DST, <u64>d4);
    store<u64>(DST, 0, 8);
    l4 = at + ihl;
  } else {
    if (avail < 40) return finish(i, REASON_MALFORMED, 0);
    const plen = be16(ip + 4);
    if (plen + 40 > avail) return finish(i, REASON_MALFORMED, 0);
    end = at + 40 + plen;
    for (let k: u32 = 0; k < 4; k++) {
      store<u32>(SRC + (<usize>k << 2), be32(ip + 8 + (k << 2)));
      store<u32>(DST + (<usize>k << 2), be32(ip + 24 + (k << 2)));
    }
    // Linux refuses IPv4-mapped source or destination on the wire (SPEC §8).
    if (mapped(SRC) || mapped(DST)) return finish(i, REASON_MALFORMED, 0);
    // A header chain cut short is malformed; in a first fragment (RFC 7112: the whole
    // chain must be in it) it is the too-short first fragment of SPEC §8, which still
    // decides its later fragments.
    if (!walk6(p, at + 40, end, u8at(ip + 6))) {
      if (wFrag != 1) return finish(i, REASON_MALFORMED, 0);
      broken = true;
    }
    if (wFrag == 2) kind |= K_LATER;
    else if (wFrag == 1) kind |= K_FIRST;
    store<u32>(P_FRAG_ID + (<usize>i << 2), wFragId);
    store<u8>(P_FRAG_PROTO + <usize>i, <u8>wFragProto);
    proto = wProto;
    l4 = wOff;
  }

  // ---- Direction and the flow's addresses.
  const dstLocal = v6 ? isLocal(st, DST, true) : isLocal4(st, d4);
  const srcLocal = v6 ? isLocal(st, SRC, true) : isLocal4(st, s4);
  const outbound = !dstLocal && srcLocal;
  const a = <usize>i << 4;
  if (v6) {
    copyWords(F_LOCAL + a, outbound ? SRC : DST);
    copyWords(F_REMOTE + a, outbound ? DST : SRC);
  } else {
    store<u64>(F_LOCAL + a, <u64>(outbound ? s4 : d4));
    store<u64>(F_LOCAL + a, 0, 8);
    store<u64>(F_REMOTE + a, <u64>(outbound ? d4 : s4));
    store<u64>(F_REMOTE + a, 0, 8);
  }
  if (outbound) kind |= K_OUTBOUND;
  if (dstLocal && srcLocal) kind |= K_BOTH;
  const at4 = <usize>i << 2;
  store<u32>(F_META + at4, (outbound ? META_OUTBOUND : 0) | META_LOCAL_PRESENT | (v6 ? META_REMOTE_V6 | META_LOCAL_V6 : 0));
  store<u32>(F_PROTO + at4, proto);
  let port: u32 = PORT_ABSENT;
  let sport: u32 = PORT_ABSENT;
  let icmp: u32 = ICMP_ABSENT | (ICMP_ABSENT << ICMP_CODE_SHIFT);
  let ports: u32 = 0;
  let keyFam: u32 = v6 ? 1 : 0;
  let malformed = broken;

  // ---- Transport header (not in a later fragment).
  if (!(kind & K_LATER) && !broken) {
    const first = (kind & K_FIRST) != 0;
    const t = p + l4;
    const have = end - l4;
    if (proto == TCP) {
      const need: u32 = first ? 14 : 20;
      if (have < need) malformed = true;
      else {
        const doff = (u8at(t + 12) >> 4) << 2;
        if (doff < 20 || (!first && doff > have)) malformed = true;
        else {
          sport = be16(t);
          port = be16(t + 2);
          store<u8>(P_TCP + <usize>i, load<u8>(t + 13));
        }
      }
    } else if (proto == UDP) {
      const need: u32 = first ? 4 : 8;
      if (have < need) malformed = true;
      else if (!first && (be16(t + 4) < 8 || be16(t + 4) > have)) malformed = true;
      else {
        sport = be16(t);
        port = be16(t + 2);
      }
    } else if (proto == (v6 ? ICMPV6 : ICMP)) {
      if (have < 8) malformed = true;
      else {
        const itype = u8at(t);
        icmp = itype | (u8at(t + 1) << ICMP_CODE_SHIFT);
        if (isEcho(v6, itype)) {
          ports = be16(t + 4) << 16;
          keyFam |= CONN_KEY_ECHO;
        }
        else if (isIcmpError(v6, itype)) {
          kind |= K_ERROR;
          if (decodeQuote(st, p, l4 + 8, end, v6, i)) {
            kind |= K_QUOTE;
            if (isLocal(st, QDST, v6) && isLocal(st, QSRC, v6)) kind |= K_QBOTH;
          }
        }
      }
    }
    if (proto == TCP || proto == UDP) ports = outbound ? sport | (port << 16) : port | (sport << 16);
  }
  store<u32>(F_PORT + at4, port);
  store<u32>(F_SPORT + at4, sport);
  store<u32>(F_ICMP + at4, icmp);
  store<u32>(P_PORTS + at4, ports);
  store<u8>(P_KEYFAM + <usize>i, <u8>keyFam);
  const local = dstLocal || srcLocal;
  if (malformed) {
    // A local first fragment too short for its ports still decides its datagram's
    // later fragments (SPEC §8: they are malformed too), so it keeps K_FIRST.
    return finish(i, REASON_MALFORMED, local ? kind & ~(K_ERROR | K_QUOTE) : 0);
  }
  if (!local) return finish(i, REASON_NOT_LOCAL, 0);
  finish(i, PROCEED, kind);
}
