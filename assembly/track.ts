// The stateful packet path (SPEC §7–§8): a whole PACKETS window in one call.
//
// Per chunk of CHUNK packets, in four passes:
//  1. decode every packet (./decode.ts) into the chunk arrays;
//  2. probe the connection table read-only, in passes of independent loads (hashes
//     and bucket heads, then chains) so the misses of many packets overlap; packets
//     that do not find their connection (or, for ICMP errors, the connection they
//     quote) are "candidates";
//  3. classify the candidates with the published policy, a block of BLOCK flows of
//     one direction at a time, through the same classifier as flows (./classify.ts);
//  4. walk the packets strictly in order, with exact state: advance time, expire,
//     find the connection (the probe's, re-checked; packet k+1 may be the reply to
//     packet k, so a miss is looked up again once anything was opened), decide, open,
//     update. A packet whose connection vanished since the probe (it expired in
//     between) is classified on its own there; a candidate whose connection appeared
//     since (a reply within the chunk) simply ignores its precomputed verdict.
// The rules never depend on state, so classifying ahead (pass 3) gives the verdict the
// in-order pass would have computed; pass 4 alone decides what is recorded.
import {
  PKT_COUNT_AT, PKT_BYTES_AT, PKT_BASE_AT, PKT_OFFSETS_AT, PKT_LENGTHS_AT, PKT_WIRE_AT, PKT_TIMES_AT, PKT_LINKS_AT,
  PKT_OUT_ACTIONS_AT, PKT_OUT_REASONS_AT, PKT_OUT_RULES_AT,
  TRK_CHAIN_IN_AT, TRK_CHAIN_OUT_AT, TRK_RULE_MAP_AT, TRK_RULE_MAP_COUNT_AT, TRK_NOW_AT, TRK_SOONEST_AT, TRK_TRACKED_AT, TRK_CAPACITY_AT, TRK_ENTRIES_AT, TRK_LISTS_AT,
  NIL, CONN_CLASSES, CLASS_TCP_HANDSHAKE, CLASS_TCP_ESTABLISHED, CLASS_TCP_CLOSING, CLASS_UDP_ONE_WAY, CLASS_UDP_BOTH_WAYS,
  CLASS_ICMP, CLASS_OTHER, CONN_OPENER_LOCAL, CONN_SYNACK, CONN_FIN_OPENER, CONN_FIN_RESPONDER,
  CONN_LOCAL_AT, CONN_REMOTE_AT, CONN_PORTS_AT, CONN_PROTO_AT, CONN_FAMILY_AT, CONN_KEY_V6, CONN_CLASS_AT, CONN_FLAGS_AT, CONN_ICMP_AT, CONN_NEXT_AT,
  FRAG_ACTION_AT, FRAG_REASON_AT, FRAG_RULE_AT,
  REASON_RULE, REASON_DEFAULT, REASON_ESTABLISHED, REASON_RELATED, REASON_MALFORMED, REASON_FRAGMENT, REASON_TABLE_FULL,
  COUNTER_PACKETS, COUNTER_BYTES,
} from "./packet-layout";
import {
  TABLE_DIRECTORY_AT, TABLE_CHAINS_AT, META_OUTBOUND, META_LOCAL_PRESENT, META_REMOTE_V6, META_LOCAL_V6,
  PORT_ABSENT, ICMP_ABSENT, ICMP_CODE_SHIFT,
} from "./layout";
import { Batch, BLOCK, BLOCK_RULE, BLOCK_ACTION, UNDECIDED, classifyBlock } from "./classify";
import {
  CHUNK, decodePacket, finish, PROCEED, K_V6, K_FIRST, K_LATER, K_ERROR, K_QUOTE, K_BOTH, K_QBOTH, K_OUTBOUND,
  F_META, F_REMOTE, F_LOCAL, F_PROTO, F_PORT, F_SPORT, F_ICMP, P_REASON, P_KIND, P_TCP, P_PORTS, P_FRAG_ID, P_FRAG_PROTO,
  Q_LOCAL, Q_REMOTE, Q_PORTS, Q_PROTO, P_KEYFAM, Q_KEYFAM, TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK,
} from "./decode";
import {
  connFind, connInsert, connRefresh, connRemove, expireUntil, fragFind, fragEntry, fragRecord, countVerdict, bumpCounter,
  foundSenderLocal, connHash, connBucket, connIs, connNext,
} from "./conntrack";

const TCP: u32 = 6;
const UDP: u32 = 17;

/** Not yet classified (a verdict is -1 for the default drop, or a rule id). */
const NOT_CLASSIFIED: i32 = -2;
/** Pass 3's verdict of each candidate: deciding rule id (-1 default) and action. */
const P_CLS_RULE: usize = memory.data(CHUNK * 4, 16);
const P_CLS_ACTION: usize = memory.data(CHUNK);

// Pass 2's answer per packet: the CONN of its own key (HINT_SWAPPED: found under the
// swapped key, the reply between two of the instance's addresses), or NIL. Pass 4
// re-checks the CONN still holds that key (it may have expired or been reused since)
// instead of hashing again; a NIL stays NIL unless pass 4 opened a connection since.
const P_HINT: usize = memory.data(CHUNK * 4, 16);
const HINT_SWAPPED: u32 = 0x80000000;
let insertsInChunk: u32 = 0;

// Candidate flows of one block, gathered from the chunk (or from CONNs when
// re-checking), in the classifier's BATCH form; C_SLOT says where each came from.
const C_META: usize = memory.data(BLOCK * 4, 16);
const C_REMOTE: usize = memory.data(BLOCK * 16, 16);
const C_LOCAL: usize = memory.data(BLOCK * 16, 16);
const C_PROTO: usize = memory.data(BLOCK * 4, 16);
const C_PORT: usize = memory.data(BLOCK * 4, 16);
const C_SPORT: usize = memory.data(BLOCK * 4, 16);
const C_ICMP: usize = memory.data(BLOCK * 4, 16);
const C_SLOT: usize = memory.data(BLOCK * 4, 16);
const CANDIDATES: usize = memory.data(offsetof<Batch>());

/**
 * Classifies candidate flows [0, count) of one direction through the instance's chain
 * (as classifyBatch does). Answers are left in BLOCK_RULE (UNDECIDED = default drop)
 * and BLOCK_ACTION.
 */
function classifyCandidates(table: usize, st: usize, outbound: bool, count: u32): void {
  const b = changetype<Batch>(CANDIDATES);
  b.meta = C_META;
  b.remote = C_REMOTE;
  b.local = C_LOCAL;
  b.proto = C_PROTO;
  b.port = C_PORT;
  b.sport = C_SPORT;
  b.icmp = C_ICMP;
  for (let k: u32 = 0; k < count; k++) store<i32>(BLOCK_RULE + (<usize>k << 2), UNDECIDED);
  const index = load<u32>(st + (outbound ? TRK_CHAIN_OUT_AT : TRK_CHAIN_IN_AT));
  const directory = table + <usize>load<u32>(table + TABLE_DIRECTORY_AT);
  const chain = table + <usize>load<u32>(table + <usize>load<u32>(table + TABLE_CHAINS_AT) + 4 + (<usize>index << 2));
  const links = load<u32>(chain);
  let undecided = count;
  for (let c: u32 = 0; c < links && undecided != 0; c++) {
    const cls = table + <usize>load<u32>(directory + (<usize>load<u32>(chain + 4 + (<usize>c << 2)) << 2));
    undecided -= classifyBlock(table, cls, b, 0, count);
  }
}

/** Copies chunk packet k's flow into candidate slot c. */
@inline function gatherPacket(k: u32, c: u32): void {
  const a = <usize>k << 2;
  const to = <usize>c << 2;
  store<u32>(C_META + to, load<u32>(F_META + a));
  store<u64>(C_REMOTE + (to << 2), load<u64>(F_REMOTE + (a << 2)));
  store<u64>(C_REMOTE + (to << 2), load<u64>(F_REMOTE + (a << 2), 8), 8);
  store<u64>(C_LOCAL + (to << 2), load<u64>(F_LOCAL + (a << 2)));
  store<u64>(C_LOCAL + (to << 2), load<u64>(F_LOCAL + (a << 2), 8), 8);
  store<u32>(C_PROTO + to, load<u32>(F_PROTO + a));
  store<u32>(C_PORT + to, load<u32>(F_PORT + a));
  store<u32>(C_SPORT + to, load<u32>(F_SPORT + a));
  store<u32>(C_ICMP + to, load<u32>(F_ICMP + a));
  store<u32>(C_SLOT + to, k);
}

/** Writes the answers of candidate slots [0, count) to their packets' P_CLS_*. */
function scatterVerdicts(count: u32): void {
  for (let c: u32 = 0; c < count; c++) {
    const k = <usize>load<u32>(C_SLOT + (<usize>c << 2));
    const rule = load<i32>(BLOCK_RULE + (<usize>c << 2));
    store<i32>(P_CLS_RULE + (k << 2), rule);
    store<u8>(P_CLS_ACTION + k, rule == UNDECIDED ? 0 : load<u8>(BLOCK_ACTION + <usize>c));
  }
}

@inline function ownPf(k: u32): u32 {
  return load<u32>(F_PROTO + (<usize>k << 2)) | (<u32>load<u8>(P_KEYFAM + <usize>k) << 8);
}

/** Does chunk packet k look its own connection up (a whole packet or first fragment, not an ICMP error)? */
@inline function ownLookup(k: u32): bool {
  return load<u8>(P_REASON + <usize>k) == PROCEED && (<u32>load<u8>(P_KIND + <usize>k) & (K_LATER | K_ERROR)) == 0;
}

/**
 * Pass 2 for the packets' own connections, as passes of independent loads so the CPU
 * overlaps their cache misses: every key's hash and bucket head, then every chain.
 */
function probeOwn(st: usize, count: u32): void {
  for (let k: u32 = 0; k < count; k++) {
    if (!ownLookup(k)) {
      store<u32>(P_HINT + (<usize>k << 2), NIL);
      continue;
    }
    const a = <usize>k << 4;
    const h = connHash(st, F_LOCAL + a, F_REMOTE + a, load<u32>(P_PORTS + (<usize>k << 2)), ownPf(k));
    store<u32>(P_HINT + (<usize>k << 2), connBucket(st, h));
  }
  for (let k: u32 = 0; k < count; k++) {
    let e = load<u32>(P_HINT + (<usize>k << 2));
    if (e == NIL && !ownLookup(k)) continue;
    const a = <usize>k << 4;
    const ports = load<u32>(P_PORTS + (<usize>k << 2));
    const pf = ownPf(k);
    while (e != NIL && !connIs(st, e, F_LOCAL + a, F_REMOTE + a, ports, pf)) e = connNext(st, e);
    if (e == NIL && (<u32>load<u8>(P_KIND + <usize>k) & K_BOTH)) {
      e = connFind(st, F_REMOTE + a, F_LOCAL + a, (ports >> 16) | (ports << 16), pf, true, false);
      if (e != NIL) e |= HINT_SWAPPED;
    }
    store<u32>(P_HINT + (<usize>k << 2), e);
  }
}

/** Pass 4: chunk packet k's own connection now (NIL: untracked); sets senderLocal. */
function findOwn(st: usize, k: u32): u32 {
  const a = <usize>k << 4;
  const kind = <u32>load<u8>(P_KIND + <usize>k);
  const ports = load<u32>(P_PORTS + (<usize>k << 2));
  const pf = ownPf(k);
  const hint = load<u32>(P_HINT + (<usize>k << 2));
  if (hint != NIL) {
    const e = hint & ~HINT_SWAPPED;
    if (hint & HINT_SWAPPED) {
      if (connIs(st, e, F_REMOTE + a, F_LOCAL + a, (ports >> 16) | (ports << 16), pf)) {
        senderLocal = true;
        return e;
      }
    } else if (connIs(st, e, F_LOCAL + a, F_REMOTE + a, ports, pf)) {
      senderLocal = (kind & K_OUTBOUND) != 0;
      return e;
    }
  } else if (insertsInChunk == 0) {
    return NIL; // nothing was opened since the probe found nothing
  }
  const e = connFind(st, F_LOCAL + a, F_REMOTE + a, ports, pf, (kind & K_OUTBOUND) != 0, (kind & K_BOTH) != 0);
  senderLocal = foundSenderLocal;
  return e;
}

/** Which side sent the packet findOwn found a connection for. */
let senderLocal = false;

/** Looks up the connection chunk packet k (an ICMP error) quotes (NIL: none tracked). */
@inline function findQuoted(st: usize, k: u32): u32 {
  const a = <usize>k << 2;
  const kind = <u32>load<u8>(P_KIND + <usize>k);
  const pf = <u32>load<u8>(Q_PROTO + <usize>k) | (<u32>load<u8>(Q_KEYFAM + <usize>k) << 8);
  return connFind(st, Q_LOCAL + (a << 2), Q_REMOTE + (a << 2), load<u32>(Q_PORTS + a), pf, false, (kind & K_QBOTH) != 0);
}

/** Pass 3's candidates, by group (direction × family): chunk indexes, CHUNK per group. */
const GROUPS: usize = memory.data(4 * CHUNK * 2, 16);
const GROUP_COUNT: usize = memory.data(4 * 4, 16);

/** Classifies the candidates of group g (chunk indexes at GROUPS + g·CHUNK) in blocks. */
function classifyGroup(table: usize, st: usize, g: u32): void {
  const list = GROUPS + (<usize>(g * CHUNK) << 1);
  const total = load<u32>(GROUP_COUNT + (<usize>g << 2));
  const outbound = (g & 2) != 0;
  for (let from: u32 = 0; from < total; from += BLOCK) {
    const n = min<u32>(BLOCK, total - from);
    for (let c: u32 = 0; c < n; c++) gatherPacket(<u32>load<u16>(list + (<usize>(from + c) << 1)), c);
    classifyCandidates(table, st, outbound, n);
    scatterVerdicts(n);
  }
}

/**
 * Passes 2 and 3: probe, then classify the probable new flows of the chunk, in blocks
 * of one direction (one chain) and one family (one trie per address dimension:
 * mixing families in a block costs the classifier several times over).
 */
function classifyAhead(table: usize, st: usize, count: u32): void {
  probeOwn(st, count);
  memory.fill(GROUP_COUNT, 0, 16);
  for (let k: u32 = 0; k < count; k++) {
    store<i32>(P_CLS_RULE + (<usize>k << 2), NOT_CLASSIFIED);
    if (load<u8>(P_REASON + <usize>k) != PROCEED) continue;
    const kind = <u32>load<u8>(P_KIND + <usize>k);
    if (kind & K_LATER) continue;
    if (kind & K_ERROR) {
      if ((kind & K_QUOTE) && findQuoted(st, k) != NIL) continue;
    } else if (load<u32>(P_HINT + (<usize>k << 2)) != NIL) {
      continue;
    }
    const g = ((kind & K_OUTBOUND) != 0 ? 2 : 0) | (kind & K_V6);
    const at = GROUP_COUNT + (<usize>g << 2);
    const n = load<u32>(at);
    store<u16>(GROUPS + (<usize>(g * CHUNK + n) << 1), <u16>k);
    store<u32>(at, n + 1);
  }
  for (let g: u32 = 0; g < 4; g++) classifyGroup(table, st, g);
}

/**
 * Chunk packet k's rule verdict (from pass 3, or classified now on its own), as a
 * tracker rule id (-1: the default drop); its action is in P_CLS_ACTION.
 */
@inline function verdictOf(table: usize, st: usize, k: u32): i32 {
  let rule = load<i32>(P_CLS_RULE + (<usize>k << 2));
  if (rule == NOT_CLASSIFIED) {
    gatherPacket(k, 0);
    classifyCandidates(table, st, (load<u8>(P_KIND + <usize>k) & <u8>K_OUTBOUND) != 0, 1);
    scatterVerdicts(1);
    rule = load<i32>(P_CLS_RULE + (<usize>k << 2));
  }
  if (rule < 0 || <u32>rule >= load<u32>(st + TRK_RULE_MAP_COUNT_AT)) return -1;
  return load<i32>(<usize>load<u32>(st + TRK_RULE_MAP_AT) + (<usize>rule << 2));
}

// The decision of the packet being applied.
let vAction: u32 = 0;
let vReason: u32 = 0;
let vRule: i32 = -1;

@inline function decide(action: u32, reason: u32, rule: i32): void {
  vAction = action;
  vReason = reason;
  vRule = rule;
}

/**
 * Class of a new connection of protocol `proto` (family from `v6`): ICMP echo has its
 * own timeout; other ICMP types are keyed and timed like every other protocol (SPEC §7).
 */
@inline function openingClass(proto: u32, v6: bool, icmpType: u32): u32 {
  if (proto == TCP) return CLASS_TCP_HANDSHAKE;
  if (proto == UDP) return CLASS_UDP_ONE_WAY;
  if (proto == (v6 ? 58 : 1) && (v6 ? icmpType == 128 || icmpType == 129 : icmpType == 8 || icmpType == 0)) return CLASS_ICMP;
  return CLASS_OTHER;
}

/** State machine of a tracked connection for one more packet (SPEC §7, §8 Details). */
function advance(st: usize, e: u32, k: u32, senderLocal: bool, now: f64): void {
  const c = <usize>load<u32>(st + TRK_ENTRIES_AT) + (<usize>e << 6);
  let cls = <u32>load<u8>(c + CONN_CLASS_AT);
  let flags = <u32>load<u8>(c + CONN_FLAGS_AT);
  const fromOpener = senderLocal == ((flags & CONN_OPENER_LOCAL) != 0);
  const proto = <u32>load<u8>(c + CONN_PROTO_AT);
  if (proto == TCP) {
    const tf = <u32>load<u8>(P_TCP + <usize>k);
    if (tf & TCP_RST) {
      cls = CLASS_TCP_CLOSING;
    } else if (cls != CLASS_TCP_CLOSING) {
      if (cls == CLASS_TCP_HANDSHAKE) {
        if (!fromOpener && (tf & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) flags |= CONN_SYNACK;
        else if (fromOpener && (tf & (TCP_SYN | TCP_ACK)) == TCP_ACK && (flags & CONN_SYNACK)) cls = CLASS_TCP_ESTABLISHED;
      }
      if (tf & TCP_FIN) flags |= fromOpener ? CONN_FIN_OPENER : CONN_FIN_RESPONDER;
      if ((flags & (CONN_FIN_OPENER | CONN_FIN_RESPONDER)) == (CONN_FIN_OPENER | CONN_FIN_RESPONDER)) cls = CLASS_TCP_CLOSING;
    }
  } else if (proto == UDP && !fromOpener) {
    cls = CLASS_UDP_BOTH_WAYS;
  }
  connRefresh(st, e, cls, flags, now);
}

/** Pass 4 for chunk packet k: decide with exact state, record, count, answer. */
function apply(table: usize, st: usize, k: u32, t: f64, wire: f64): void {
  let now = load<f64>(st + TRK_NOW_AT);
  if (t > now) {
    now = t;
    store<f64>(st + TRK_NOW_AT, now);
  }
  if (now >= load<f64>(st + TRK_SOONEST_AT)) expireUntil(st, now);
  const reason = <u32>load<u8>(P_REASON + <usize>k);
  const kind = <u32>load<u8>(P_KIND + <usize>k);
  const a = <usize>k << 2;
  const outbound = (kind & K_OUTBOUND) != 0;
  const v6 = (kind & K_V6) != 0;
  // Fragment key addresses: the packet's source and destination.
  const src = (outbound ? F_LOCAL : F_REMOTE) + (a << 2);
  const dst = (outbound ? F_REMOTE : F_LOCAL) + (a << 2);
  const fragPf = <u32>load<u8>(P_FRAG_PROTO + <usize>k) | ((kind & K_V6) << 8);
  const fragId = load<u32>(P_FRAG_ID + a);
  if (reason != PROCEED) {
    decide(0, reason, -1);
  } else if (kind & K_LATER) {
    const f = fragFind(st, src, dst, fragId, fragPf);
    if (f == NIL) decide(0, REASON_FRAGMENT, -1);
    else {
      const x = fragEntry(st, f);
      decide(<u32>load<u8>(x + FRAG_ACTION_AT), <u32>load<u8>(x + FRAG_REASON_AT), load<i32>(x + FRAG_RULE_AT));
    }
  } else if (kind & K_ERROR) {
    // Related to a tracked connection, or a new flow for the rules that opens nothing.
    if ((kind & K_QUOTE) && findQuoted(st, k) != NIL) decide(1, REASON_RELATED, -1);
    else {
      const rule = verdictOf(table, st, k);
      decide(<u32>load<u8>(P_CLS_ACTION + <usize>k), rule < 0 ? REASON_DEFAULT : REASON_RULE, rule);
    }
  } else {
    const e = findOwn(st, k);
    if (e != NIL) {
      decide(1, REASON_ESTABLISHED, -1);
      advance(st, e, k, senderLocal, now);
    } else {
      const rule = verdictOf(table, st, k);
      const action = <u32>load<u8>(P_CLS_ACTION + <usize>k);
      const proto = load<u32>(F_PROTO + a);
      const tf = <u32>load<u8>(P_TCP + <usize>k);
      if (action == 0) decide(0, rule < 0 ? REASON_DEFAULT : REASON_RULE, rule);
      else if (proto == TCP && (tf & TCP_RST)) decide(1, REASON_RULE, rule); // a RST opens nothing
      else if (load<u32>(st + TRK_TRACKED_AT) >= load<u32>(st + TRK_CAPACITY_AT)) decide(0, REASON_TABLE_FULL, -1);
      else {
        decide(1, REASON_RULE, rule);
        let flags: u32 = outbound ? CONN_OPENER_LOCAL : 0;
        if (proto == TCP && (tf & TCP_FIN)) flags |= CONN_FIN_OPENER;
        const icmp = load<u32>(F_ICMP + a);
        connInsert(st, F_LOCAL + (a << 2), F_REMOTE + (a << 2), load<u32>(P_PORTS + a), ownPf(k),
          openingClass(proto, v6, icmp & 0xff), flags, (icmp & 0xff) | ((icmp >> ICMP_CODE_SHIFT) << 8), now);
        insertsInChunk++;
      }
    }
  }
  // A first fragment decides its datagram's later fragments (SPEC §8), whatever it was.
  if (kind & K_FIRST) fragRecord(st, src, dst, fragId, fragPf, vAction, vReason, vRule, now);
  countVerdict(st, vAction, vReason, vRule, wire);
}

/**
 * Decodes, tracks and classifies every packet of the PACKETS window at `win` with
 * the TABLE at `table` and the TRACKER at `st`; writes each packet's action, reason
 * and rule id. No allocation.
 */
export function trackPackets(table: usize, st: usize, win: usize): void {
  const n = load<u32>(win + PKT_COUNT_AT);
  const bytes = <usize>load<u32>(win + PKT_BYTES_AT);
  const base = <usize>load<u32>(win + PKT_BASE_AT);
  const offsets = <usize>load<u32>(win + PKT_OFFSETS_AT);
  const lengths = <usize>load<u32>(win + PKT_LENGTHS_AT);
  const wire = <usize>load<u32>(win + PKT_WIRE_AT);
  const times = <usize>load<u32>(win + PKT_TIMES_AT);
  const links = <usize>load<u32>(win + PKT_LINKS_AT);
  const outActions = <usize>load<u32>(win + PKT_OUT_ACTIONS_AT);
  const outReasons = <usize>load<u32>(win + PKT_OUT_REASONS_AT);
  const outRules = <usize>load<u32>(win + PKT_OUT_RULES_AT);
  let packets: f64 = 0;
  let byteCount: f64 = 0;
  for (let first: u32 = 0; first < n; first += CHUNK) {
    const count = min<u32>(CHUNK, n - first);
    for (let k: u32 = 0; k < count; k++) {
      const j = <usize>(first + k) << 2;
      const len = load<u32>(lengths + j);
      // More bytes captured than were on the wire: the record lies about the packet
      // (tcpdump: "Invalid header"), so nothing in it is trusted.
      if (load<u32>(wire + j) < len) finish(k, REASON_MALFORMED, 0);
      else decodePacket(st, bytes + <usize>load<u32>(offsets + j) - base, len, load<u32>(links + j), k);
    }
    classifyAhead(table, st, count);
    insertsInChunk = 0;
    for (let k: u32 = 0; k < count; k++) {
      const j = <usize>(first + k);
      // Bytes: the length on the wire, or the captured bytes when that claims fewer.
      const w = <f64>max<u32>(load<u32>(wire + (j << 2)), load<u32>(lengths + (j << 2)));
      apply(table, st, k, load<f64>(times + (j << 3)), w);
      store<u8>(outActions + j, <u8>vAction);
      store<u8>(outReasons + j, <u8>vReason);
      store<i32>(outRules + (j << 2), vReason == REASON_RULE ? vRule : -1);
      packets += 1;
      byteCount += w;
    }
  }
  bumpCounter(st, COUNTER_PACKETS, packets);
  bumpCounter(st, COUNTER_BYTES, byteCount);
}

/** Candidate slot c ← the opening flow of connection entry c (for a re-check). */
function gatherConn(st: usize, e: u32, c: u32): void {
  const x = <usize>load<u32>(st + TRK_ENTRIES_AT) + (<usize>e << 6);
  const to = <usize>c << 2;
  const flags = <u32>load<u8>(x + CONN_FLAGS_AT);
  const openerLocal = (flags & CONN_OPENER_LOCAL) != 0;
  const v6 = (load<u8>(x + CONN_FAMILY_AT) & CONN_KEY_V6) != 0;
  const proto = <u32>load<u8>(x + CONN_PROTO_AT);
  store<u32>(C_META + to, (openerLocal ? META_OUTBOUND : 0) | META_LOCAL_PRESENT | (v6 ? META_REMOTE_V6 | META_LOCAL_V6 : 0));
  store<u64>(C_REMOTE + (to << 2), load<u64>(x + CONN_REMOTE_AT));
  store<u64>(C_REMOTE + (to << 2), load<u64>(x + CONN_REMOTE_AT, 8), 8);
  store<u64>(C_LOCAL + (to << 2), load<u64>(x + CONN_LOCAL_AT));
  store<u64>(C_LOCAL + (to << 2), load<u64>(x + CONN_LOCAL_AT, 8), 8);
  store<u32>(C_PROTO + to, proto);
  const ports = load<u32>(x + CONN_PORTS_AT);
  let port: u32 = PORT_ABSENT;
  let sport: u32 = PORT_ABSENT;
  let icmp: u32 = ICMP_ABSENT | (ICMP_ABSENT << ICMP_CODE_SHIFT);
  if (proto == TCP || proto == UDP) {
    const lp = ports & 0xffff;
    const rp = ports >> 16;
    port = openerLocal ? rp : lp;
    sport = openerLocal ? lp : rp;
  } else if (proto == (v6 ? 58 : 1)) {
    const stored = <u32>load<u16>(x + CONN_ICMP_AT);
    icmp = (stored & 0xff) | ((stored >> 8) << ICMP_CODE_SHIFT);
  }
  store<u32>(C_PORT + to, port);
  store<u32>(C_SPORT + to, sport);
  store<u32>(C_ICMP + to, icmp);
  store<u32>(C_SLOT + to, e);
}

/** Removes the candidate connections [0, count) whose opening flow is now dropped. */
function removeDropped(table: usize, st: usize, outbound: bool, count: u32): void {
  classifyCandidates(table, st, outbound, count);
  for (let c: u32 = 0; c < count; c++) {
    const rule = load<i32>(BLOCK_RULE + (<usize>c << 2));
    if (rule == UNDECIDED || load<u8>(BLOCK_ACTION + <usize>c) == 0) connRemove(st, load<u32>(C_SLOT + (<usize>c << 2)));
  }
}

/**
 * At a publish (recheckOnPublish): re-classifies the opening flow of every tracked
 * connection with the new TABLE and removes those it drops (SPEC §7). With `all`,
 * removes every connection (the tracker's instance is gone from the policy).
 */
export function trackerRecheck(table: usize, st: usize, all: u32): void {
  for (let d: u32 = 0; d < 2; d++) {
    const outbound = d == 1;
    let n: u32 = 0;
    for (let cls: u32 = 0; cls < <u32>CONN_CLASSES; cls++) {
      let e = load<u32>(st + TRK_LISTS_AT + (<usize>cls << 3));
      while (e != NIL) {
        const x = <usize>load<u32>(st + TRK_ENTRIES_AT) + (<usize>e << 6);
        const next = load<u32>(x + CONN_NEXT_AT);
        if (all) {
          if (d == 0) connRemove(st, e);
        } else if (((<u32>load<u8>(x + CONN_FLAGS_AT) & CONN_OPENER_LOCAL) != 0) == outbound) {
          gatherConn(st, e, n++);
          if (n == BLOCK) {
            removeDropped(table, st, outbound, n);
            n = 0;
          }
        }
        e = next;
      }
    }
    if (n) removeDropped(table, st, outbound, n);
  }
}
