// The connection table and the fragment table (layouts in ./packet-layout.ts):
// chained hash buckets over fixed arrays of 64-byte entries, a free list, and one
// expiry list per class (per idle timeout), kept sorted by appending at the tail.
// No allocation: TypeScript sized every array when it created the tracker.
import {
  TRK_CAPACITY_AT, TRK_MASK_AT, TRK_BUCKETS_AT, TRK_ENTRIES_AT, TRK_FREE_AT, TRK_TRACKED_AT,
  TRK_FRAG_CAPACITY_AT, TRK_FRAG_MASK_AT, TRK_FRAG_BUCKETS_AT, TRK_FRAG_ENTRIES_AT, TRK_FRAG_FREE_AT, TRK_FRAG_COUNT_AT,
  TRK_SEED_AT, TRK_NOW_AT, TRK_TIMEOUTS_AT, TRK_LISTS_AT, TRK_COUNTERS_AT, TRK_REASONS_AT, TRK_SOONEST_AT,
  TRK_HITS_AT, TRK_RULES_AT,
  NIL, CLASS_COUNT, CLASS_FRAGMENT, CLASS_FREE, CONN_SIZE, FRAG_SIZE,
  CONN_LOCAL_AT, CONN_REMOTE_AT, CONN_PORTS_AT, CONN_PROTO_AT, CONN_CLASS_AT, CONN_FLAGS_AT, CONN_ICMP_AT,
  CONN_CHAIN_AT, CONN_EXPIRES_AT, CONN_PREV_AT, CONN_NEXT_AT,
  FRAG_SRC_AT, FRAG_DST_AT, FRAG_ID_AT, FRAG_PROTO_AT, FRAG_ACTION_AT, FRAG_REASON_AT, FRAG_RULE_AT,
  COUNTER_COUNT, COUNTER_OPENED, COUNTER_EXPIRED, COUNTER_REMOVED, COUNTER_FRAGMENTS, COUNTER_FRAGMENTS_EXPIRED,
  COUNTER_FRAGMENTS_UNRECORDED, REASON_SLOTS,
} from "./packet-layout";

@inline function entryAt(base: usize, e: u32): usize {
  return base + (<usize>e << 6); // CONN_SIZE == FRAG_SIZE == 64
}

@inline export function bumpCounter(st: usize, which: i32, by: f64): void {
  const at = st + TRK_COUNTERS_AT + (<usize>which << 3);
  store<f64>(at, load<f64>(at) + by);
}

@inline function mix(h: u64, v: u64): u64 {
  h = (h ^ v) * 0x9e3779b97f4a7c15;
  return h ^ (h >> 32);
}

/** Seeded hash of a 38-byte key: two addresses (u64 pairs), a u32 and the u16 proto|family. */
@inline function keyHash(seed: u64, a0: u64, a1: u64, b0: u64, b1: u64, x: u32, pf: u32): u32 {
  let h = mix(seed, a0);
  h = mix(h, a1);
  h = mix(h, b0);
  h = mix(h, b1);
  h = mix(h, (<u64>x << 16) | <u64>pf);
  return <u32>(h ^ (h >> 29));
}

/** Hash of a connection key (local, remote: 4 words each; ports; proto | family << 8). */
export function connHash(st: usize, local: usize, remote: usize, ports: u32, pf: u32): u32 {
  return keyHash(load<u64>(st + TRK_SEED_AT), load<u64>(local), load<u64>(local, 8), load<u64>(remote), load<u64>(remote, 8), ports, pf);
}

/** First CONN of the bucket of hash h (NIL: empty). */
@inline export function connBucket(st: usize, h: u32): u32 {
  return load<u32>(<usize>load<u32>(st + TRK_BUCKETS_AT) + (<usize>(h & load<u32>(st + TRK_MASK_AT)) << 2));
}

/** True when CONN e is in use and has exactly this key. */
@inline export function connIs(st: usize, e: u32, local: usize, remote: usize, ports: u32, pf: u32): bool {
  const c = entryAt(<usize>load<u32>(st + TRK_ENTRIES_AT), e);
  return load<u64>(c) == load<u64>(local) && load<u64>(c, 8) == load<u64>(local, 8) &&
    load<u64>(c, 16) == load<u64>(remote) && load<u64>(c, 24) == load<u64>(remote, 8) &&
    load<u32>(c + CONN_PORTS_AT) == ports && <u32>load<u16>(c + CONN_PROTO_AT) == pf && load<u8>(c + CONN_CLASS_AT) != CLASS_FREE;
}

/** The next CONN in e's bucket. */
@inline export function connNext(st: usize, e: u32): u32 {
  return load<u32>(entryAt(<usize>load<u32>(st + TRK_ENTRIES_AT), e) + CONN_CHAIN_AT);
}

/** Builds empty tables: every bucket NIL, every entry free, no lists, counters zero. */
export function trackerInit(st: usize): void {
  const cap = load<u32>(st + TRK_CAPACITY_AT);
  memory.fill(<usize>load<u32>(st + TRK_BUCKETS_AT), 0xff, (<usize>load<u32>(st + TRK_MASK_AT) + 1) << 2);
  const entries = <usize>load<u32>(st + TRK_ENTRIES_AT);
  memory.fill(entries, 0, <usize>cap * CONN_SIZE);
  for (let e: u32 = 0; e < cap; e++) {
    store<u32>(entryAt(entries, e) + CONN_CHAIN_AT, e + 1 < cap ? e + 1 : NIL);
    store<u8>(entryAt(entries, e) + CONN_CLASS_AT, CLASS_FREE);
  }
  store<u32>(st + TRK_FREE_AT, cap ? 0 : NIL);
  store<u32>(st + TRK_TRACKED_AT, 0);
  const fcap = load<u32>(st + TRK_FRAG_CAPACITY_AT);
  memory.fill(<usize>load<u32>(st + TRK_FRAG_BUCKETS_AT), 0xff, (<usize>load<u32>(st + TRK_FRAG_MASK_AT) + 1) << 2);
  const frags = <usize>load<u32>(st + TRK_FRAG_ENTRIES_AT);
  memory.fill(frags, 0, <usize>fcap * FRAG_SIZE);
  for (let e: u32 = 0; e < fcap; e++) store<u32>(entryAt(frags, e) + CONN_CHAIN_AT, e + 1 < fcap ? e + 1 : NIL);
  store<u32>(st + TRK_FRAG_FREE_AT, fcap ? 0 : NIL);
  store<u32>(st + TRK_FRAG_COUNT_AT, 0);
  memory.fill(st + TRK_LISTS_AT, 0xff, CLASS_COUNT * 8);
  memory.fill(st + TRK_COUNTERS_AT, 0, COUNTER_COUNT * 8 + 2 * REASON_SLOTS * 8);
  store<f64>(st + TRK_NOW_AT, -Infinity);
  store<f64>(st + TRK_SOONEST_AT, Infinity);
}

// ---- Expiry lists (CONN and FRAG share the link offsets) ----

@inline function listHeadAt(st: usize, cls: u32): usize {
  return st + TRK_LISTS_AT + (<usize>cls << 3);
}

function listUnlink(st: usize, base: usize, cls: u32, e: u32): void {
  const x = entryAt(base, e);
  const prev = load<u32>(x + CONN_PREV_AT);
  const next = load<u32>(x + CONN_NEXT_AT);
  const list = listHeadAt(st, cls);
  if (prev == NIL) store<u32>(list, next);
  else store<u32>(entryAt(base, prev) + CONN_NEXT_AT, next);
  if (next == NIL) store<u32>(list, prev, 4);
  else store<u32>(entryAt(base, next) + CONN_PREV_AT, prev);
}

/** Sets e's expiry to now + timeout of `cls` and appends it to that list (which stays sorted). */
function listAppend(st: usize, base: usize, cls: u32, e: u32, now: f64): void {
  const x = entryAt(base, e);
  const expires = now + load<f64>(st + TRK_TIMEOUTS_AT + (<usize>cls << 3));
  store<f64>(x + CONN_EXPIRES_AT, expires);
  const list = listHeadAt(st, cls);
  const tail = load<u32>(list, 4);
  store<u32>(x + CONN_PREV_AT, tail);
  store<u32>(x + CONN_NEXT_AT, NIL);
  if (tail == NIL) store<u32>(list, e);
  else store<u32>(entryAt(base, tail) + CONN_NEXT_AT, e);
  store<u32>(list, e, 4);
  if (expires < load<f64>(st + TRK_SOONEST_AT)) store<f64>(st + TRK_SOONEST_AT, expires);
}

// ---- Connections ----

// Orientation of the last connFind hit: true when the key matched with the packet's
// sender on the instance's side (an outbound packet, or the reply of a connection
// between two of the instance's own addresses).
export let foundSenderLocal = false;

/**
 * Finds the connection with key (local, remote, ports, proto | family << 8); with
 * `both` (both addresses are the instance's) also the swapped key. `outbound` says
 * which side sent the packet when the key matches as given. NIL when untracked.
 */
export function connFind(st: usize, local: usize, remote: usize, ports: u32, pf: u32, outbound: bool, both: bool): u32 {
  const l0 = load<u64>(local);
  const l1 = load<u64>(local, 8);
  const r0 = load<u64>(remote);
  const r1 = load<u64>(remote, 8);
  const seed = load<u64>(st + TRK_SEED_AT);
  const buckets = <usize>load<u32>(st + TRK_BUCKETS_AT);
  const entries = <usize>load<u32>(st + TRK_ENTRIES_AT);
  const mask = load<u32>(st + TRK_MASK_AT);
  let e = load<u32>(buckets + (<usize>(keyHash(seed, l0, l1, r0, r1, ports, pf) & mask) << 2));
  while (e != NIL) {
    const c = entryAt(entries, e);
    if (load<u64>(c) == l0 && load<u64>(c, 8) == l1 && load<u64>(c, 16) == r0 && load<u64>(c, 24) == r1 &&
        load<u32>(c + CONN_PORTS_AT) == ports && <u32>load<u16>(c + CONN_PROTO_AT) == pf) {
      foundSenderLocal = outbound;
      return e;
    }
    e = load<u32>(c + CONN_CHAIN_AT);
  }
  if (!both) return NIL;
  const swapped = (ports >> 16) | (ports << 16);
  e = load<u32>(buckets + (<usize>(keyHash(seed, r0, r1, l0, l1, swapped, pf) & mask) << 2));
  while (e != NIL) {
    const c = entryAt(entries, e);
    if (load<u64>(c) == r0 && load<u64>(c, 8) == r1 && load<u64>(c, 16) == l0 && load<u64>(c, 24) == l1 &&
        load<u32>(c + CONN_PORTS_AT) == swapped && <u32>load<u16>(c + CONN_PROTO_AT) == pf) {
      foundSenderLocal = true;
      return e;
    }
    e = load<u32>(c + CONN_CHAIN_AT);
  }
  return NIL;
}

/** Opens a connection (the caller checked there is room). Returns its entry. */
export function connInsert(st: usize, local: usize, remote: usize, ports: u32, pf: u32, cls: u32, flags: u32, icmp: u32, now: f64): u32 {
  const entries = <usize>load<u32>(st + TRK_ENTRIES_AT);
  const e = load<u32>(st + TRK_FREE_AT);
  const c = entryAt(entries, e);
  store<u32>(st + TRK_FREE_AT, load<u32>(c + CONN_CHAIN_AT));
  const l0 = load<u64>(local);
  const l1 = load<u64>(local, 8);
  const r0 = load<u64>(remote);
  const r1 = load<u64>(remote, 8);
  store<u64>(c + CONN_LOCAL_AT, l0);
  store<u64>(c + CONN_LOCAL_AT, l1, 8);
  store<u64>(c + CONN_REMOTE_AT, r0);
  store<u64>(c + CONN_REMOTE_AT, r1, 8);
  store<u32>(c + CONN_PORTS_AT, ports);
  store<u16>(c + CONN_PROTO_AT, <u16>pf);
  store<u8>(c + CONN_CLASS_AT, <u8>cls);
  store<u8>(c + CONN_FLAGS_AT, <u8>flags);
  store<u32>(c + CONN_ICMP_AT, icmp & 0xffff);
  const bucket = <usize>load<u32>(st + TRK_BUCKETS_AT) + (<usize>(keyHash(load<u64>(st + TRK_SEED_AT), l0, l1, r0, r1, ports, pf) & load<u32>(st + TRK_MASK_AT)) << 2);
  store<u32>(c + CONN_CHAIN_AT, load<u32>(bucket));
  store<u32>(bucket, e);
  listAppend(st, entries, cls, e, now);
  store<u32>(st + TRK_TRACKED_AT, load<u32>(st + TRK_TRACKED_AT) + 1);
  bumpCounter(st, COUNTER_OPENED, 1);
  return e;
}

/** Moves connection e to class `cls` (its state) and restarts its idle timer. */
export function connRefresh(st: usize, e: u32, cls: u32, flags: u32, now: f64): void {
  const entries = <usize>load<u32>(st + TRK_ENTRIES_AT);
  const c = entryAt(entries, e);
  listUnlink(st, entries, <u32>load<u8>(c + CONN_CLASS_AT), e);
  store<u8>(c + CONN_CLASS_AT, <u8>cls);
  store<u8>(c + CONN_FLAGS_AT, <u8>flags);
  listAppend(st, entries, cls, e, now);
}

/** Unlinks entry e of a table (bucket chain, expiry list) and frees it. */
function tableRemove(st: usize, e: u32, frag: bool): void {
  const entries = <usize>load<u32>(st + (frag ? TRK_FRAG_ENTRIES_AT : TRK_ENTRIES_AT));
  const c = entryAt(entries, e);
  const h = keyHash(load<u64>(st + TRK_SEED_AT), load<u64>(c), load<u64>(c, 8), load<u64>(c, 16), load<u64>(c, 24),
    load<u32>(c + 32), <u32>load<u16>(c + 36));
  const mask = load<u32>(st + (frag ? TRK_FRAG_MASK_AT : TRK_MASK_AT));
  let link = <usize>load<u32>(st + (frag ? TRK_FRAG_BUCKETS_AT : TRK_BUCKETS_AT)) + (<usize>(h & mask) << 2);
  let x = load<u32>(link);
  while (x != e && x != NIL) {
    link = entryAt(entries, x) + CONN_CHAIN_AT;
    x = load<u32>(link);
  }
  store<u32>(link, load<u32>(c + CONN_CHAIN_AT));
  listUnlink(st, entries, frag ? CLASS_FRAGMENT : <u32>load<u8>(c + CONN_CLASS_AT), e);
  const freeAt = st + (frag ? TRK_FRAG_FREE_AT : TRK_FREE_AT);
  if (!frag) store<u8>(c + CONN_CLASS_AT, CLASS_FREE);
  store<u32>(c + CONN_CHAIN_AT, load<u32>(freeAt));
  store<u32>(freeAt, e);
  const countAt = st + (frag ? TRK_FRAG_COUNT_AT : TRK_TRACKED_AT);
  store<u32>(countAt, load<u32>(countAt) - 1);
}

/** Removes connection e (a re-check at a publish found its opening flow dropped). */
export function connRemove(st: usize, e: u32): void {
  tableRemove(st, e, false);
  bumpCounter(st, COUNTER_REMOVED, 1);
}

/**
 * Expires every connection and fragment verdict whose time is up at `now` (alive
 * while now < expires), then recomputes the soonest expiry. Called before a packet
 * when now >= soonest, so counts are exact at every packet.
 */
export function expireUntil(st: usize, now: f64): void {
  let soonest = Infinity;
  for (let cls: u32 = 0; cls < <u32>CLASS_COUNT; cls++) {
    const frag = cls == <u32>CLASS_FRAGMENT;
    const entries = <usize>load<u32>(st + (frag ? TRK_FRAG_ENTRIES_AT : TRK_ENTRIES_AT));
    const list = listHeadAt(st, cls);
    let e = load<u32>(list);
    while (e != NIL) {
      const expires = load<f64>(entryAt(entries, e) + CONN_EXPIRES_AT);
      if (expires > now) {
        if (expires < soonest) soonest = expires;
        break;
      }
      tableRemove(st, e, frag);
      bumpCounter(st, frag ? COUNTER_FRAGMENTS_EXPIRED : COUNTER_EXPIRED, 1);
      e = load<u32>(list);
    }
  }
  store<f64>(st + TRK_SOONEST_AT, soonest);
}

// ---- Fragments (first-fragment verdicts) ----

/** The FRAG entry of (src, dst, id, proto | family << 8), or NIL. */
export function fragFind(st: usize, src: usize, dst: usize, id: u32, pf: u32): u32 {
  const s0 = load<u64>(src);
  const s1 = load<u64>(src, 8);
  const d0 = load<u64>(dst);
  const d1 = load<u64>(dst, 8);
  const frags = <usize>load<u32>(st + TRK_FRAG_ENTRIES_AT);
  const bucket = <usize>load<u32>(st + TRK_FRAG_BUCKETS_AT) + (<usize>(keyHash(load<u64>(st + TRK_SEED_AT), s0, s1, d0, d1, id, pf) & load<u32>(st + TRK_FRAG_MASK_AT)) << 2);
  let e = load<u32>(bucket);
  while (e != NIL) {
    const f = entryAt(frags, e);
    if (load<u64>(f) == s0 && load<u64>(f, 8) == s1 && load<u64>(f, 16) == d0 && load<u64>(f, 24) == d1 &&
        load<u32>(f + FRAG_ID_AT) == id && <u32>load<u16>(f + FRAG_PROTO_AT) == pf) return e;
    e = load<u32>(f + CONN_CHAIN_AT);
  }
  return NIL;
}

/** Frag entry address (for reading its verdict). */
export function fragEntry(st: usize, e: u32): usize {
  return entryAt(<usize>load<u32>(st + TRK_FRAG_ENTRIES_AT), e);
}

/**
 * Remembers a first fragment's verdict for the fragment timeout (a repeated first
 * fragment replaces it and restarts the time). When the table is full the verdict is
 * not remembered (counted): its later fragments are then FRAGMENT drops.
 */
export function fragRecord(st: usize, src: usize, dst: usize, id: u32, pf: u32, action: u32, reason: u32, rule: i32, now: f64): void {
  const frags = <usize>load<u32>(st + TRK_FRAG_ENTRIES_AT);
  let e = fragFind(st, src, dst, id, pf);
  if (e != NIL) {
    listUnlink(st, frags, CLASS_FRAGMENT, e);
  } else {
    e = load<u32>(st + TRK_FRAG_FREE_AT);
    if (e == NIL) {
      bumpCounter(st, COUNTER_FRAGMENTS_UNRECORDED, 1);
      return;
    }
    const f = entryAt(frags, e);
    store<u32>(st + TRK_FRAG_FREE_AT, load<u32>(f + CONN_CHAIN_AT));
    const s0 = load<u64>(src);
    const s1 = load<u64>(src, 8);
    const d0 = load<u64>(dst);
    const d1 = load<u64>(dst, 8);
    store<u64>(f + FRAG_SRC_AT, s0);
    store<u64>(f + FRAG_SRC_AT, s1, 8);
    store<u64>(f + FRAG_DST_AT, d0);
    store<u64>(f + FRAG_DST_AT, d1, 8);
    store<u32>(f + FRAG_ID_AT, id);
    store<u16>(f + FRAG_PROTO_AT, <u16>pf);
    const bucket = <usize>load<u32>(st + TRK_FRAG_BUCKETS_AT) + (<usize>(keyHash(load<u64>(st + TRK_SEED_AT), s0, s1, d0, d1, id, pf) & load<u32>(st + TRK_FRAG_MASK_AT)) << 2);
    store<u32>(f + CONN_CHAIN_AT, load<u32>(bucket));
    store<u32>(bucket, e);
    store<u32>(st + TRK_FRAG_COUNT_AT, load<u32>(st + TRK_FRAG_COUNT_AT) + 1);
  }
  const f = entryAt(frags, e);
  store<u8>(f + FRAG_ACTION_AT, <u8>action);
  store<u8>(f + FRAG_REASON_AT, <u8>reason);
  store<i32>(f + FRAG_RULE_AT, rule);
  listAppend(st, frags, CLASS_FRAGMENT, e, now);
  bumpCounter(st, COUNTER_FRAGMENTS, 1);
}

/** Counts one packet's verdict: by (action, reason), and on its rule (packets, bytes). */
@inline export function countVerdict(st: usize, action: u32, reason: u32, rule: i32, bytes: f64): void {
  const r = st + TRK_REASONS_AT + ((<usize>(action * REASON_SLOTS + reason)) << 3);
  store<f64>(r, load<f64>(r) + 1);
  if (rule >= 0 && <u32>rule < load<u32>(st + TRK_RULES_AT)) {
    const h = <usize>load<u32>(st + TRK_HITS_AT) + (<usize>rule << 4);
    store<f64>(h, load<f64>(h) + 1);
    store<f64>(h, load<f64>(h, 8) + bytes, 8);
  }
}
