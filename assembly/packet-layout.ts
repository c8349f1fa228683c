/*
 * sgfilter packet path and connection table — the ONE source of truth for every
 * offset shared by the TypeScript tracker (src/packets/*) and the WASM packet path
 * (assembly/decode.ts, conntrack.ts, track.ts). Written, like ./layout.ts, in the
 * subset of TypeScript that AssemblyScript also compiles (plain integer consts).
 *
 * All integers little-endian. Unlike the compiled TABLE, everything here holds
 * ABSOLUTE addresses in the engine's linear memory: TypeScript allocates each region
 * once (arena of src/wasm/load.ts) and WASM never allocates.
 *
 *  PACKETS window (TypeScript writes it before each trackPackets call)
 *  +0  ┌────────────────────────────────────────────────────────────────┐
 *      │ count    u32   packets in this call                            │
 *  +4  │ bytes    u32 → a copy of the caller's bytes [base, base + span) │
 *  +8  │ base     u32   caller offset of the copy's first byte          │
 *  +12 │ offsets  u32 → u32[count] caller offset of packet i            │
 *  +16 │ lengths  u32 → u32[count] captured length of packet i          │
 *  +20 │ wire     u32 → u32[count] length on the wire (byte counters)   │
 *  +24 │ times    u32 → f64[count] capture time, seconds                │
 *  +28 │ links    u32 → u32[count] LINKTYPE_* of packet i               │
 *  +32 │ actions  u32 → u8[count]  out: 1 accept, 0 drop                │
 *  +36 │ reasons  u32 → u8[count]  out: REASON_*                        │
 *  +40 │ rules    u32 → i32[count] out: global rule id (reason RULE), -1│
 *      └────────────────────────────────────────────────────────────────┘
 *  Packet i is bytes + (offsets[i] - base), lengths[i] bytes long. TypeScript checks
 *  offsets[i] >= base and offsets[i] + lengths[i] <= base + span for every i before
 *  the call (the descriptor is the caller's, so untrusted); WASM then checks every
 *  header offset against lengths[i] before it reads a byte.
 *
 *  TRACKER (one per tracker; TypeScript fills the configuration, WASM the state)
 *  +0   capacity     u32   connections at most (the table-full limit)
 *  +4   mask         u32   buckets - 1 (buckets: a power of two >= capacity)
 *  +8   buckets      u32 → u32[buckets]   first CONN of each hash chain, or NIL
 *  +12  entries      u32 → CONN[capacity]
 *  +16  free         u32   first free CONN (free ones chain through CONN.chain)
 *  +20  tracked      u32   CONNs in use
 *  +24  chainIn      u32   CHAIN index (compiled TABLE) of the instance, inbound
 *  +28  chainOut     u32   … outbound (TypeScript rewrites both at each publish)
 *  +32  fragCapacity u32   first-fragment verdicts remembered at most
 *  +36  fragMask     u32
 *  +40  fragBuckets  u32 → u32[fragMask + 1]
 *  +44  fragEntries  u32 → FRAG[fragCapacity]
 *  +48  fragFree     u32
 *  +52  fragCount    u32
 *  +56  local4       u32 → RANGE4[local4Count]  the instance's own IPv4 addresses,
 *  +60  local4Count  u32                        sorted, disjoint, inclusive
 *  +64  local6       u32 → RANGE6[local6Count]  … IPv6
 *  +68  local6Count  u32
 *  +72  hits         u32 → f64[2 × rules]  per tracker rule id: packets, bytes
 *  +76  rules        u32   tracker rule ids (every rule position seen since creation)
 *  +80  seed         u64   hash seed (random per tracker: which keys collide does
 *                          not follow from addresses and ports alone)
 *  +88  now          f64   latest capture time seen (-Infinity before any packet)
 *  +96  timeouts     f64[CLASS_COUNT]  idle timeout of each class, seconds
 *  +160 lists        u32[CLASS_COUNT][2] head, tail of each class's expiry list
 *  +224 counters     f64[COUNTER_COUNT]  COUNTER_* totals
 *  +288 reasons      f64[2][REASON_SLOTS] packets by (action, reason)
 *  +544 soonest      f64   a lower bound of every list head's expiry time
 *  +552 ruleMap      u32 → u32[ruleMapCount]  tracker rule id of each global rule id
 *  +556 ruleMapCount u32                      of the published policy
 *  +560 (end)
 *
 *  Rule ids: the classifier answers with the published policy's global rule ids,
 *  which change at every publish, while a first fragment's verdict and the hit
 *  counters outlive publishes. So the tracker names a rule by position (group,
 *  direction, index; as verdicts do) and content, gives each rule it has seen one
 *  tracker rule id for good (an edited or moved rule gets a new one, so its hits
 *  stay its own), and WASM translates through ruleMap. PACKETS.rules, FRAG.rule
 *  and TRACKER.hits all hold tracker rule ids.
 *
 *  CONN (one tracked connection, CONN_SIZE = 64 bytes; with its bucket ≤ 72 bytes)
 *  +0  local   u32[4]  the instance's address  ┐ key (SPEC §7): the tracker is one
 *  +16 remote  u32[4]  the peer's address      │ instance's, so the instance is the
 *  +32 ports   u32     local | remote << 16    │ table itself; ICMP echo: remote =
 *  +36 proto   u8      IP protocol             │ identifier, local 0; other
 *  +37 family  u8      bit 0: IPv6; bit 1:     │ protocols: both 0
 *                      CONN_KEY_ECHO           ┘
 *  CONN_KEY_ECHO marks an ICMP/ICMPv6 echo key (addresses + identifier) apart from
 *  every other ICMP type's key (addresses only): without it, echo identifier 0
 *  would be the key of other ICMP and let a redirect or timestamp pass as
 *  established after a ping.
 *  +38 class   u8      CLASS_*: the state, and the expiry list the CONN is on;
 *                      CLASS_FREE while the CONN is on the free list
 *  +39 flags   u8      CONN_OPENER_LOCAL | CONN_SYNACK | CONN_FIN_OPENER | CONN_FIN_RESPONDER
 *  +40 icmp    u16     type | code << 8 of the opening packet (ICMP), for re-checks
 *  +42 (zero)  u16
 *  +44 chain   u32     next CONN in the bucket (or in the free list), NIL ends
 *  +48 expires f64     capture time at which it expires (alive while now < expires)
 *  +56 prev    u32     expiry list neighbours (NIL at the ends)
 *  +60 next    u32
 *  Addresses are in the classifier's word order (see ./layout.ts BATCH: word 0 most
 *  significant; IPv4 is word 0, words 1-3 zero), so a CONN's opening flow can be
 *  re-classified without conversion. The opening flow is (opener's direction, proto,
 *  remote, local, and its destination/source ports: for an opener on the local side
 *  the remote port is the destination, otherwise the local port is).
 *
 *  FRAG (the verdict of a first fragment, FRAG_SIZE = 64 bytes)
 *  +0  src u32[4]  +16 dst u32[4]  +32 id u32  +36 proto u8  +37 family u8   (key)
 *  +38 action u8   +39 reason u8   +40 rule i32 (tracker rule id, -1 none)
 *  +44 chain u32   +48 expires f64  +56 prev u32  +60 next u32   (as CONN)
 *  Key (SPEC §8): source, destination, protocol, identification. IPv4: the header's
 *  protocol and 16-bit id; IPv6: the fragment header's next header and 32-bit id
 *  (both the same in every fragment of a datagram).
 *
 *  RANGE4: lo u32, hi u32 (8 bytes).  RANGE6: lo (u64 high half, u64 low half),
 *  hi (u64, u64) (32 bytes); halves as numbers, high half = word0 << 32 | word1.
 *
 * Why chained buckets and one FIFO list per idle timeout: a tracker's timeouts are
 * fixed and time only moves forward (an earlier timestamp counts as the latest seen),
 * so "now + timeout of class c" never decreases: appending a refreshed CONN at the
 * tail of class c's list keeps every list sorted by expiry. Expiring is popping list
 * heads while head.expires <= now, before each packet, so the `tracked` count is
 * exact at every packet and table-full never counts a dead connection, and a live one
 * is never evicted (SPEC §7). Every operation is O(1) (chain length ~1 at load <= 1).
 * A timer wheel would also be O(1) but coarse (slots) or larger; open addressing
 * needs tombstones or backward shifts that would move CONNs the lists point at.
 * Linux conntrack uses the same shape (hash chains, per-entry timeouts) but reaps
 * with a periodic scan and may early-drop unassured entries when full; the SPEC
 * forbids eviction, so expiry here is exact instead of periodic.
 */

// ---- PACKETS window ----
export const PKT_COUNT_AT = 0;
export const PKT_BYTES_AT = 4;
export const PKT_BASE_AT = 8;
export const PKT_OFFSETS_AT = 12;
export const PKT_LENGTHS_AT = 16;
export const PKT_WIRE_AT = 20;
export const PKT_TIMES_AT = 24;
export const PKT_LINKS_AT = 28;
export const PKT_OUT_ACTIONS_AT = 32;
export const PKT_OUT_REASONS_AT = 36;
export const PKT_OUT_RULES_AT = 40;
export const PKT_HEADER_SIZE = 48;
/** Bytes of window per packet: offsets, lengths, wire, links (u32), time (f64), action, reason (u8), rule (i32). */
export const PKT_BYTES_PER_PACKET = 4 + 4 + 4 + 4 + 8 + 1 + 1 + 4;

// ---- TRACKER ----
export const TRK_CAPACITY_AT = 0;
export const TRK_MASK_AT = 4;
export const TRK_BUCKETS_AT = 8;
export const TRK_ENTRIES_AT = 12;
export const TRK_FREE_AT = 16;
export const TRK_TRACKED_AT = 20;
export const TRK_CHAIN_IN_AT = 24;
export const TRK_CHAIN_OUT_AT = 28;
export const TRK_FRAG_CAPACITY_AT = 32;
export const TRK_FRAG_MASK_AT = 36;
export const TRK_FRAG_BUCKETS_AT = 40;
export const TRK_FRAG_ENTRIES_AT = 44;
export const TRK_FRAG_FREE_AT = 48;
export const TRK_FRAG_COUNT_AT = 52;
export const TRK_LOCAL4_AT = 56;
export const TRK_LOCAL4_COUNT_AT = 60;
export const TRK_LOCAL6_AT = 64;
export const TRK_LOCAL6_COUNT_AT = 68;
export const TRK_HITS_AT = 72;
export const TRK_RULES_AT = 76;
export const TRK_SEED_AT = 80;
export const TRK_NOW_AT = 88;
export const TRK_TIMEOUTS_AT = 96;
export const TRK_LISTS_AT = TRK_TIMEOUTS_AT + 8 * 8;
export const TRK_COUNTERS_AT = TRK_LISTS_AT + 8 * 8;
export const TRK_REASONS_AT = TRK_COUNTERS_AT + 8 * 8;
export const TRK_SOONEST_AT = TRK_REASONS_AT + 2 * 16 * 8;
export const TRK_RULE_MAP_AT = TRK_SOONEST_AT + 8;
export const TRK_RULE_MAP_COUNT_AT = TRK_RULE_MAP_AT + 4;
export const TRK_HEADER_SIZE = TRK_RULE_MAP_COUNT_AT + 4;

/** End of a chain or list; also "not found". */
export const NIL = 0xffffffff;

// ---- Classes: a CONN's state, its idle timeout and its expiry list (FRAG: the last) ----
export const CLASS_TCP_HANDSHAKE = 0; // TCP before the opener's final ACK
export const CLASS_TCP_ESTABLISHED = 1;
export const CLASS_TCP_CLOSING = 2; // after a RST, or FINs from both sides
export const CLASS_UDP_ONE_WAY = 3;
export const CLASS_UDP_BOTH_WAYS = 4;
export const CLASS_ICMP = 5; // ICMP / ICMPv6 echo (other ICMP types are CLASS_OTHER, SPEC §7)
export const CLASS_OTHER = 6; // every other protocol
export const CLASS_FRAGMENT = 7; // FRAG entries
export const CLASS_COUNT = 8;
/** CONN.class of a free entry (so a stale reference to it never matches). */
export const CLASS_FREE = 0xff;
export const CONN_CLASSES = 7;

// ---- CONN ----
export const CONN_LOCAL_AT = 0;
export const CONN_REMOTE_AT = 16;
export const CONN_PORTS_AT = 32;
export const CONN_PROTO_AT = 36;
export const CONN_FAMILY_AT = 37;
/** Family byte bits: IPv6, and the echo key kind (see CONN above). */
export const CONN_KEY_V6 = 1;
export const CONN_KEY_ECHO = 2;
export const CONN_CLASS_AT = 38;
export const CONN_FLAGS_AT = 39;
export const CONN_ICMP_AT = 40;
export const CONN_CHAIN_AT = 44;
export const CONN_EXPIRES_AT = 48;
export const CONN_PREV_AT = 56;
export const CONN_NEXT_AT = 60;
export const CONN_SIZE = 64;
/** Bytes of key at the start of a CONN / FRAG (addresses, ports or id, protocol, family). */
export const KEY_BYTES = 38;

export const CONN_OPENER_LOCAL = 1; // the opening packet came from the instance (outbound)
export const CONN_SYNACK = 2; // TCP: the responder's SYN+ACK was seen
export const CONN_FIN_OPENER = 4;
export const CONN_FIN_RESPONDER = 8;

// ---- FRAG ----
export const FRAG_SRC_AT = 0;
export const FRAG_DST_AT = 16;
export const FRAG_ID_AT = 32;
export const FRAG_PROTO_AT = 36;
export const FRAG_FAMILY_AT = 37;
export const FRAG_ACTION_AT = 38;
export const FRAG_REASON_AT = 39;
export const FRAG_RULE_AT = 40;
export const FRAG_SIZE = 64;

export const RANGE4_SIZE = 8;
export const RANGE6_SIZE = 32;

// ---- Counters (f64 totals at TRK_COUNTERS_AT) ----
export const COUNTER_OPENED = 0;
export const COUNTER_EXPIRED = 1;
export const COUNTER_REMOVED = 2; // removed by a re-check at a publish
export const COUNTER_FRAGMENTS = 3; // first-fragment verdicts recorded
export const COUNTER_FRAGMENTS_EXPIRED = 4;
export const COUNTER_FRAGMENTS_UNRECORDED = 5; // first fragments not remembered: FRAG table full
export const COUNTER_PACKETS = 6;
export const COUNTER_BYTES = 7;
export const COUNTER_COUNT = 8;

// ---- Reasons (SPEC §8 "A packet verdict"), in PACKETS.reasons and TRACKER.reasons ----
export const REASON_RULE = 0;
export const REASON_DEFAULT = 1;
export const REASON_ESTABLISHED = 2;
export const REASON_RELATED = 3;
export const REASON_MALFORMED = 4;
export const REASON_FRAGMENT = 5;
export const REASON_TABLE_FULL = 6;
export const REASON_NOT_LOCAL = 7;
export const REASON_NOT_IP = 8;
export const REASON_COUNT = 9;
/** Slots per action in TRACKER.reasons (room for more reasons without moving offsets). */
export const REASON_SLOTS = 16;

// ---- Link types (LINKTYPE_* of tcpdump.org/linktypes.html) ----
export const LINKTYPE_NULL = 0; // BSD loopback: 4-byte address family, host byte order
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // raw IP, version from the first nibble
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
