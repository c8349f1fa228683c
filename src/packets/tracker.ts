/**
 * Tracker: a stateful packet filter for one instance of an engine (docs/SEMANTICS.md, "State" and "Packets").
 *
 * Lifecycle: engine.createTracker(options) allocates a fixed connection table in the
 * engine's linear memory (assembly/packet-layout.ts TRACKER, CONN, FRAG) → any number
 * of tracker.classifyPackets(batch), each one WASM call that decodes, tracks and
 * classifies the whole batch in packet order → tracker.close() frees it. Publishing a
 * policy (engine.reload / update / loadSnapshot) keeps every tracked connection; with
 * `recheckOnPublish` the connections whose opening flow the new policy drops are
 * removed at the publish. Time comes only from the packets' timestamps.
 *
 * Single-threaded like the engine: classifyPackets is synchronous, so no batch is
 * ever mid-flight across a publish.
 */
import { SgfilterError } from '../errors.js';
import type { AddressRange, AddressSet, Config, Direction, Rule } from '../types.js';
import * as P from '../../assembly/packet-layout.js';
import type { CompiledPolicy, RuleRef } from '../compile/index.js';
import type { Arena } from '../wasm/load.js';
import { addressSetText, formatAddress } from '../config/address.js';
import { formatPorts } from '../config/ports.js';
import { parseOwnAddresses } from '../config/parse.js';
import type { Issue } from '../errors.js';
import { packetBatchData, type PacketBatch } from './batch.js';
import { PACKET_REASONS, PacketVerdicts, type PacketReason, type RuleName } from './verdicts.js';

/** Idle timeouts in seconds (the defaults of docs/SEMANTICS.md, "State"). */
export interface ConnectionTimeouts {
  /** TCP after the handshake completed (the opener's final ACK). */
  tcpEstablished: number;
  /** TCP before the handshake completes. */
  tcpHandshake: number;
  /** TCP after a RST, or after FINs from both sides. */
  tcpClosing: number;
  /** UDP seen in one direction only. */
  udpOneWay: number;
  /** UDP seen both ways. */
  udpBothWays: number;
  /** ICMP / ICMPv6 echo. */
  icmp: number;
  /** Every other protocol (and ICMP types other than echo and the errors). */
  other: number;
  /** How long a first fragment's verdict applies to the later fragments of its datagram. */
  fragment: number;
}

/**
 * The default idle timeouts, in seconds: the ones cloud security groups document (AWS
 * publishes the same figures; docs/SEMANTICS.md, "State"). TCP established 432,000 (5
 * days), TCP handshake 120, TCP closing 10, UDP one way 30, UDP both ways 180, ICMP echo
 * 30, other protocols 600, fragment verdicts 30 (Linux's `ipfrag_time`). Frozen.
 */
export const DEFAULT_TIMEOUTS: Readonly<ConnectionTimeouts> = Object.freeze({
  tcpEstablished: 432_000,
  tcpHandshake: 120,
  tcpClosing: 10,
  udpOneWay: 30,
  udpBothWays: 180,
  icmp: 30,
  other: 600,
  fragment: 30,
});

const TIMEOUT_CLASS: Readonly<Record<keyof ConnectionTimeouts, number>> = Object.freeze({
  tcpHandshake: P.CLASS_TCP_HANDSHAKE,
  tcpEstablished: P.CLASS_TCP_ESTABLISHED,
  tcpClosing: P.CLASS_TCP_CLOSING,
  udpOneWay: P.CLASS_UDP_ONE_WAY,
  udpBothWays: P.CLASS_UDP_BOTH_WAYS,
  icmp: P.CLASS_ICMP,
  other: P.CLASS_OTHER,
  fragment: P.CLASS_FRAGMENT,
});

/**
 * Options of `engine.createTracker(options)`. Every option is checked when the tracker
 * is made: an unknown name, a count outside its range or a timeout that is not a
 * positive number of seconds (at most 2^32) is `INVALID_ARGUMENT`; so is a `local`
 * entry that is not an address, CIDR or range (with an issue per entry, path
 * `["local", i]`), and an instance with no addresses at all (no packet could be its). An
 * instance the policy lacks is `UNKNOWN_INSTANCE`.
 */
export interface TrackerOptions {
  /** Connections tracked at most, a whole number 0 to 2^24; past it, opening packets are `table-full`. Default 65,536 (each costs at most 72 bytes of WASM memory). */
  capacity?: number;
  /** First-fragment verdicts remembered at most, a whole number 0 to 2^20. Default 4,096. */
  fragments?: number;
  /** Idle timeouts in seconds; each defaults to DEFAULT_TIMEOUTS. */
  timeouts?: Partial<ConnectionTimeouts>;
  /** At each publish, remove the connections whose opening flow the new policy drops. Default false (keep them, as AWS does). */
  recheckOnPublish?: boolean;
  /** The instance whose policy and addresses apply. Default: the policy's first instance. */
  instance?: string;
  /** More addresses of the instance (addresses, CIDRs, ranges), beside its config `addresses`. */
  local?: readonly string[];
}

const OPTION_KEYS = ['capacity', 'fragments', 'timeouts', 'recheckOnPublish', 'instance', 'local'] as const;
export const MAX_CAPACITY = 1 << 24;
/** Longest idle timeout, seconds (136 years). */
export const MAX_TIMEOUT = 2 ** 32;
export const MAX_FRAGMENTS = 1 << 20;
export const DEFAULT_CAPACITY = 65_536;
export const DEFAULT_FRAGMENTS = 4_096;

/** The state of a tracked connection (its class: what sets its idle timeout). */
export type ConnectionState = 'tcp-handshake' | 'tcp-established' | 'tcp-closing' | 'udp-one-way' | 'udp-both-ways' | 'icmp' | 'other';
const STATES: readonly ConnectionState[] = ['tcp-handshake', 'tcp-established', 'tcp-closing', 'udp-one-way', 'udp-both-ways', 'icmp', 'other'];

/** A tracked connection, as tracker.connections() lists it. */
export interface TrackedConnection {
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...). */
  protocol: number;
  /** The instance's address, as Node prints it (an IPv4-mapped address as IPv4). */
  local: string;
  /** The peer's address, as Node prints it. */
  remote: string;
  /** The instance's TCP/UDP port; null for other protocols. */
  localPort: number | null;
  /** The peer's TCP/UDP port; null for other protocols. */
  remotePort: number | null;
  /** ICMP/ICMPv6 echo identifier; null otherwise. */
  identifier: number | null;
  /** Its state, which sets its idle timeout (see {@link ConnectionTimeouts}). */
  state: ConnectionState;
  /** Direction of the packet that opened it. */
  opener: Direction;
  /** Capture time (seconds) at which it expires unless a packet refreshes it. */
  expires: number;
}

/** What `tracker.stats()` returns: counts since the tracker was made (a fresh object each call). */
export interface TrackerStats {
  /** Connections tracked now. */
  tracked: number;
  /** The most connections there can be (the `capacity` option). */
  capacity: number;
  /** Connections opened since creation. */
  opened: number;
  /** Connections removed because their idle timeout passed. */
  expired: number;
  /** Connections removed by `recheckOnPublish` at publishes. */
  removed: number;
  /** The first-fragment verdicts (see {@link TrackerOptions.fragments}). */
  fragments: {
    /** First-fragment verdicts remembered now. */
    tracked: number;
    /** The most there can be (the `fragments` option). */
    capacity: number;
    /** First-fragment verdicts recorded since creation. */
    recorded: number;
    /** Verdicts forgotten after their 30 s (the `fragment` timeout). */
    expired: number;
    /** First fragments not remembered because the table was full (their later fragments are `fragment`). */
    unrecorded: number;
  };
  /** Packets classified. */
  packets: number;
  /** Bytes classified: the wire lengths (pcap orig_len) when given, else (or when less) the captured lengths. */
  bytes: number;
  /** Packets accepted, by reason. */
  accepted: Record<'rule' | 'established' | 'related', number>;
  /** Packets dropped, by reason. */
  dropped: Record<'rule' | 'default' | 'malformed' | 'fragment' | 'table-full' | 'not-local' | 'not-ip', number>;
  /** Latest capture time seen (seconds), null before the first packet. */
  latestTime: number | null;
}

/**
 * Hits of one rule: packets it decided and their bytes (reason `rule`, either action).
 * A rule is the rule as published at its position: its counters carry over a publish
 * only while the rule at that group, direction and index stays the same (every field
 * but the description); an edited, moved or removed rule keeps its own hits under
 * `current: false`, and the rule now at its position starts from zero.
 */
export interface RuleHit {
  /** The rule's security group. */
  groupId: string;
  /** The rule list it is in. */
  direction: Direction;
  /** Its 0-based position in that list when it decided the packets (as in verdicts). */
  ruleIndex: number;
  /** The rule's own action. */
  action: 'accept' | 'drop';
  /** True for a rule of the published policy; false for a rule of an earlier one (edited, moved or removed since). */
  current: boolean;
  /**
   * The rule as it was last published (its description, protocol, ports, peer, …).
   * Not enumerable: its address ranges are bigint, which JSON.stringify refuses, so a
   * hit serialises (and spreads) with `text` in its place.
   */
  rule: Rule;
  /** The rule as written (loggable: JSON.stringify carries this, not `rule`). */
  text: RuleHitText;
  /** The policy version that published this rule first (its counters start there). */
  policyVersion: number;
  /** Packets it decided since creation or the last `resetRuleHits()`. */
  packets: number;
  /** Their bytes (wire lengths when given, else captured lengths). */
  bytes: number;
}

/** A rule hit's rule as written, in strings only. */
export interface RuleHitText {
  /** The protocol as written (`TCP`, a preset, a number, or the service set's id). */
  protocol: string;
  /** The port as written (`22`, `8000-8100`, `ALL`). */
  port: string;
  /** The peer as written (a CIDR, a range, an address set or group id). */
  peer: string;
  /** The rule's localCidr as CIDRs or ranges (`10.0.0.0/24`), when it has one. */
  localCidr?: string;
  /** The rule's source ports (`1024-65535`), when it has them. */
  sourcePort?: string;
  /** The rule's ICMP type, when it names one. */
  icmpType?: number;
  /** The rule's ICMP code, when it names one. */
  icmpCode?: number;
  /** The rule's description, when it has one. */
  description?: string;
}

/** A tracker rule id's rule: where it is, what it is, since when. */
interface RegisteredRule extends RuleName {
  action: 'accept' | 'drop';
  rule: Rule;
  policyVersion: number;
}

/** What makes two rules the same rule for the counters: every field but the description. */
function ruleContent(r: Rule): string {
  return JSON.stringify(r, (k, v: unknown) => (k === 'description' ? undefined : typeof v === 'bigint' ? v.toString(16) : v));
}

/** The rule at (group, direction, index) of a config. */
function ruleAt(groups: Map<string, Config['securityGroups'][number]>, groupId: string, direction: Direction, ruleIndex: number): Rule {
  const g = groups.get(groupId)!;
  const list = direction === 'inbound' ? g.inbound : g.outbound;
  const r = list[ruleIndex];
  if (r && r.ruleIndex === ruleIndex) return r;
  return list.find((x) => x.ruleIndex === ruleIndex)!;
}

/** @internal what a tracker needs of its engine. */
export interface PublishedPolicy {
  version: number;
  config: Config;
  compiled: CompiledPolicy;
  address: number;
}

/** @internal the WASM exports of the packet path. */
export interface PacketExports {
  memory: WebAssembly.Memory;
  trackPackets(table: number, state: number, window: number): void;
  trackerRecheck(table: number, state: number, all: number): void;
  trackerInit(state: number): void;
}

/** @internal a publish, in two steps: prepare may throw (nothing changes), commit may not. */
export interface PublishBinding {
  prepare(next: PublishedPolicy): { commit(): void; abort(): void };
}

/** @internal */
export interface TrackerHost {
  exports: PacketExports;
  arena: Arena;
  policy(): PublishedPolicy;
  attach(binding: PublishBinding): () => void;
}

const invalid = (message: string) => new SgfilterError('INVALID_ARGUMENT', message);

function checkCount(v: unknown, name: string, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw invalid(`createTracker: ${name} must be a whole number 0-${max}, got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

function checkTimeouts(raw: unknown): ConnectionTimeouts {
  const out: ConnectionTimeouts = { ...DEFAULT_TIMEOUTS };
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('createTracker: timeouts must be an object of seconds, e.g. { udpOneWay: 60 }');
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(TIMEOUT_CLASS, key)) {
      throw invalid(`createTracker: unknown timeout "${key}"; known: ${Object.keys(TIMEOUT_CLASS).join(', ')}`);
    }
    const v = (raw as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_TIMEOUT) {
      throw invalid(`createTracker: timeouts.${key} must be a positive number of seconds up to ${MAX_TIMEOUT}, got ${typeof v === 'number' ? v : typeof v}`);
    }
    out[key as keyof ConnectionTimeouts] = v;
  }
  return out;
}

/** Sorted, merged (overlapping or adjacent) copy of `ranges`. */
function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) last.hi = r.hi;
    } else out.push({ lo: r.lo, hi: r.hi });
  }
  return out;
}

const pow2AtLeast = (n: number): number => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

const align16 = (n: number): number => Math.ceil(n / 16) * 16; // not `& ~15`: sizes may pass 2^31

/** Packets and bytes per WASM call at most (bigger batches go through in several calls). */
const MAX_WINDOW_PACKETS = 1 << 20;
const MAX_WINDOW_BYTES = 64 << 20;

/**
 * A stateful packet filter for one instance of an engine: connection tracking as cloud
 * security groups do it (docs/SEMANTICS.md, "State" and "Packets"). Made by
 * `engine.createTracker(options)`; its connection table lives in the engine's WASM
 * memory, sized once at creation. `classifyPackets(batch)` decodes, tracks and
 * classifies a whole batch in one WASM call; state carries over from batch to batch and
 * across policy publishes. Single-threaded, like its engine. `close()` frees it; every
 * later call throws `TRACKER_CLOSED`.
 */
export class Tracker {
  /** The instance whose policy and addresses the tracker applies. */
  readonly instance: string;
  /** Connections tracked at most (the `capacity` option). */
  readonly capacity: number;
  /** First-fragment verdicts remembered at most (the `fragments` option). */
  readonly fragmentCapacity: number;
  /** The idle timeouts in force, seconds (the options over {@link DEFAULT_TIMEOUTS}). Frozen. */
  readonly timeouts: Readonly<ConnectionTimeouts>;
  /** Whether a publish removes the connections whose opening flow the new policy drops. */
  readonly recheckOnPublish: boolean;
  readonly #host: TrackerHost;
  readonly #x: PacketExports;
  readonly #local: AddressSet;
  readonly #detach: () => void;
  #closed = false;
  /** The TRACKER block: header, buckets, entries, fragment buckets and entries. */
  readonly #st: number;
  readonly #stBytes: number;
  #locals = 0;
  #localsBytes = 0;
  #hits = 0;
  #hitsBytes = 0;
  /** Tracker rule ids the hits region counts (the registry's length at the last publish). */
  #hitsCount = 0;
  #map = 0;
  #mapBytes = 0;
  /** The published policy's rules (global rule id order). */
  #rules: readonly RuleRef[] = [];
  /**
   * Every rule published since creation: tracker rule id → rule (only grows). Keyed
   * by position and content, so a position that gets another rule gets a new id.
   */
  readonly #registry: RegisteredRule[] = [];
  readonly #registryIds = new Map<string, number>();
  /** The instance's [inbound, outbound] chains, null while the policy lacks the instance. */
  #chains: [number, number] | null = null;
  #win = 0;
  #winBytes = 0;
  #winPackets = 0;
  #winSpan = 0;
  #buffer: ArrayBuffer | null = null;
  #u8!: Uint8Array;
  #u32!: Uint32Array;
  #f64!: Float64Array;

  /** @internal use engine.createTracker */
  constructor(host: TrackerHost, options: TrackerOptions = {}) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalid('createTracker takes an options object');
    for (const key of Object.keys(options)) {
      if (!(OPTION_KEYS as readonly string[]).includes(key)) throw invalid(`createTracker: unknown option "${key}"; known: ${OPTION_KEYS.join(', ')}`);
    }
    this.#host = host;
    this.#x = host.exports;
    if (typeof this.#x.trackPackets !== 'function' || typeof this.#x.trackerInit !== 'function') {
      throw new SgfilterError('WASM_LOAD', 'the WASM matcher has no packet path (trackPackets); rebuild it (npm run build:wasm)');
    }
    this.capacity = checkCount(options.capacity, 'capacity', MAX_CAPACITY, DEFAULT_CAPACITY);
    this.fragmentCapacity = checkCount(options.fragments, 'fragments', MAX_FRAGMENTS, DEFAULT_FRAGMENTS);
    this.timeouts = Object.freeze(checkTimeouts(options.timeouts));
    if (options.recheckOnPublish !== undefined && typeof options.recheckOnPublish !== 'boolean') throw invalid('createTracker: recheckOnPublish must be true or false');
    this.recheckOnPublish = options.recheckOnPublish ?? false;
    const policy = host.policy();
    if (options.instance !== undefined && (typeof options.instance !== 'string' || options.instance === '')) throw invalid('createTracker: instance must be an instance id');
    const instance = options.instance ?? policy.compiled.defaultInstance;
    if (instance === null || !policy.compiled.instances.has(instance)) {
      throw new SgfilterError('UNKNOWN_INSTANCE', `createTracker: unknown instance "${instance}"; the policy has: ${[...policy.compiled.instances.keys()].join(', ') || 'none'}`);
    }
    this.instance = instance;
    this.#local = { v4: [], v6: [] };
    if (options.local !== undefined) {
      const issues: Issue[] = [];
      const set = parseOwnAddresses(options.local, ['local'], 'createTracker: local', issues);
      if (!set) throw new SgfilterError('INVALID_ARGUMENT', issues.map((i) => i.message).join('; '), issues);
      this.#local = set;
    }
    const ranges = this.#localRanges(policy.config);
    if (ranges.v4.length + ranges.v6.length === 0) {
      throw invalid(`createTracker: instance "${instance}" has no addresses, so no packet could be its; give it "addresses" in the config or pass local: [CIDR, ...]`);
    }

    // One block: TRACKER header, buckets, CONNs, fragment buckets, FRAGs.
    const buckets = pow2AtLeast(Math.max(1, this.capacity));
    const fragBuckets = pow2AtLeast(Math.max(1, this.fragmentCapacity));
    const at = { buckets: align16(P.TRK_HEADER_SIZE) };
    const entriesAt = align16(at.buckets + buckets * 4);
    const fragBucketsAt = entriesAt + this.capacity * P.CONN_SIZE;
    const fragEntriesAt = align16(fragBucketsAt + fragBuckets * 4);
    this.#stBytes = fragEntriesAt + this.fragmentCapacity * P.FRAG_SIZE;
    this.#st = host.arena.alloc(this.#stBytes);
    let first: { commit(): void; abort(): void } | undefined;
    try {
      this.#views();
      const h = this.#st >>> 2;
      const u32 = this.#u32;
      // Arena memory is reused: nothing of the header may be left from its last owner.
      this.#u8.fill(0, this.#st, this.#st + P.TRK_HEADER_SIZE);
      u32[h + (P.TRK_CAPACITY_AT >>> 2)] = this.capacity;
      u32[h + (P.TRK_MASK_AT >>> 2)] = buckets - 1;
      u32[h + (P.TRK_BUCKETS_AT >>> 2)] = this.#st + at.buckets;
      u32[h + (P.TRK_ENTRIES_AT >>> 2)] = this.#st + entriesAt;
      u32[h + (P.TRK_FRAG_CAPACITY_AT >>> 2)] = this.fragmentCapacity;
      u32[h + (P.TRK_FRAG_MASK_AT >>> 2)] = fragBuckets - 1;
      u32[h + (P.TRK_FRAG_BUCKETS_AT >>> 2)] = this.#st + fragBucketsAt;
      u32[h + (P.TRK_FRAG_ENTRIES_AT >>> 2)] = this.#st + fragEntriesAt;
      const seed = new Uint32Array(2);
      globalThis.crypto.getRandomValues(seed);
      u32[h + (P.TRK_SEED_AT >>> 2)] = seed[0]!;
      u32[h + (P.TRK_SEED_AT >>> 2) + 1] = seed[1]!;
      for (const [name, cls] of Object.entries(TIMEOUT_CLASS)) {
        this.#f64[(this.#st + P.TRK_TIMEOUTS_AT) / 8 + cls] = this.timeouts[name as keyof ConnectionTimeouts];
      }
      this.#x.trackerInit(this.#st);
      first = this.#prepare(policy);
      first.commit();
    } catch (e) {
      // All or nothing: every region this tracker took goes back (its table, and the
      // counters, rule map and addresses of its first publish), so a refused
      // createTracker (MEMORY_LIMIT) leaves the engine's memory as it found it.
      first?.abort();
      host.arena.release(this.#st, this.#stBytes);
      throw e;
    }
    this.#detach = host.attach({ prepare: (next) => this.#prepare(next) });
  }

  #views(): void {
    const buffer = this.#x.memory.buffer;
    if (this.#buffer === buffer) return;
    this.#buffer = buffer;
    this.#u8 = new Uint8Array(buffer);
    this.#u32 = new Uint32Array(buffer);
    this.#f64 = new Float64Array(buffer);
  }

  #open(what: string): void {
    if (this.#closed) throw new SgfilterError('TRACKER_CLOSED', `${what}: this tracker was closed`);
  }

  /** The instance's own addresses in `config` plus the `local` option, merged per family. */
  #localRanges(config: Config): { v4: AddressRange[]; v6: AddressRange[] } {
    const own = config.instances.find((i) => i.id === this.instance)?.addresses;
    return {
      v4: mergeRanges([...(own?.v4 ?? []), ...this.#local.v4]),
      v6: mergeRanges([...(own?.v6 ?? []), ...this.#local.v6]),
    };
  }

  /**
   * Prepares what a publish of `next` changes for this tracker: its rule counters,
   * the instance's chains and addresses, and (recheckOnPublish) the re-check.
   * Allocations happen here, so commit cannot fail.
   */
  #prepare(next: PublishedPolicy): { commit(): void; abort(): void } {
    const arena = this.#host.arena;
    const ranges = this.#localRanges(next.config);
    const localsBytes = ranges.v4.length * P.RANGE4_SIZE + ranges.v6.length * P.RANGE6_SIZE;
    const rules = next.compiled.rules;
    // Tracker rule ids of the new policy's rules (new positions get new ids; ids that
    // an aborted publish added stay unused, which is harmless).
    const map = new Uint32Array(rules.length);
    const groups = new Map(next.config.securityGroups.map((g) => [g.id, g]));
    /** Rules kept from an earlier publish, as this one publishes them (a new description). */
    const kept: [number, Rule][] = [];
    rules.forEach((r, id) => {
      const rule = ruleAt(groups, r.groupId, r.direction, r.ruleIndex);
      const key = `${r.groupId}\u0000${r.direction}\u0000${r.ruleIndex}\u0000${ruleContent(rule)}`;
      let tid = this.#registryIds.get(key);
      if (tid === undefined) {
        tid = this.#registry.length;
        this.#registry.push({ groupId: r.groupId, direction: r.direction, ruleIndex: r.ruleIndex, action: r.action, rule, policyVersion: next.version });
        this.#registryIds.set(key, tid);
      } else kept.push([tid, rule]);
      map[id] = tid;
    });
    const mapBytes = map.length * 4;
    const registered = this.#registry.length;
    const hitsBytes = registered * 16;
    const regions: [number, number][] = [];
    try {
      for (const bytes of [localsBytes, mapBytes, hitsBytes]) regions.push([arena.alloc(bytes), bytes]);
    } catch (e) {
      for (const [at, bytes] of regions) arena.release(at, bytes);
      throw e;
    }
    const locals = regions[0]![0];
    const mapAt = regions[1]![0];
    const hits = regions[2]![0];
    const chains = next.compiled.instances.get(this.instance) ?? null;
    return {
      abort: () => {
        for (const [at, bytes] of regions) arena.release(at, bytes);
      },
      commit: () => {
        this.#views();
        const u32 = this.#u32;
        const h = this.#st >>> 2;
        // Hit counters: the old ones carried over, the new positions from zero.
        this.#f64.fill(0, hits / 8, hits / 8 + registered * 2);
        if (this.#hitsCount) this.#f64.copyWithin(hits / 8, this.#hits / 8, this.#hits / 8 + this.#hitsCount * 2);
        this.#hitsCount = registered;
        if (this.#hitsBytes || this.#hits) arena.release(this.#hits, this.#hitsBytes);
        this.#hits = hits;
        this.#hitsBytes = hitsBytes;
        u32[h + (P.TRK_HITS_AT >>> 2)] = hits;
        u32[h + (P.TRK_RULES_AT >>> 2)] = registered;
        u32.set(map, mapAt >>> 2);
        if (this.#mapBytes || this.#map) arena.release(this.#map, this.#mapBytes);
        this.#map = mapAt;
        this.#mapBytes = mapBytes;
        u32[h + (P.TRK_RULE_MAP_AT >>> 2)] = mapAt;
        u32[h + (P.TRK_RULE_MAP_COUNT_AT >>> 2)] = map.length;
        this.#rules = rules;
        for (const [tid, rule] of kept) this.#registry[tid]!.rule = rule;
        // The instance's addresses (they may change with the policy).
        let w = locals >>> 2;
        for (const r of ranges.v4) {
          u32[w++] = Number(r.lo);
          u32[w++] = Number(r.hi);
        }
        const v6At = locals + ranges.v4.length * P.RANGE4_SIZE;
        w = v6At >>> 2;
        for (const r of ranges.v6) {
          for (const x of [r.lo, r.hi]) {
            // u64 (high half), u64 (low half), each little-endian: word1, word0, word3, word2.
            u32[w++] = Number((x >> 64n) & 0xffffffffn);
            u32[w++] = Number(x >> 96n);
            u32[w++] = Number(x & 0xffffffffn);
            u32[w++] = Number((x >> 32n) & 0xffffffffn);
          }
        }
        if (this.#localsBytes || this.#locals) arena.release(this.#locals, this.#localsBytes);
        this.#locals = locals;
        this.#localsBytes = localsBytes;
        u32[h + (P.TRK_LOCAL4_AT >>> 2)] = locals;
        u32[h + (P.TRK_LOCAL4_COUNT_AT >>> 2)] = ranges.v4.length;
        u32[h + (P.TRK_LOCAL6_AT >>> 2)] = v6At;
        u32[h + (P.TRK_LOCAL6_COUNT_AT >>> 2)] = ranges.v6.length;
        this.#chains = chains;
        if (chains) {
          u32[h + (P.TRK_CHAIN_IN_AT >>> 2)] = chains[0];
          u32[h + (P.TRK_CHAIN_OUT_AT >>> 2)] = chains[1];
        }
        if (this.recheckOnPublish && !this.#closed) this.#x.trackerRecheck(next.address, this.#st, chains ? 0 : 1);
      },
    };
  }

  /** Makes room in the window for `packets` packets and `span` bytes. */
  #fit(packets: number, span: number): void {
    if (packets <= this.#winPackets && span <= this.#winSpan) return;
    const wantPackets = Math.max(packets, Math.min(2 * this.#winPackets, MAX_WINDOW_PACKETS), 256);
    const wantSpan = Math.max(span, Math.min(2 * this.#winSpan, MAX_WINDOW_BYTES), 4096);
    const bytes = P.PKT_HEADER_SIZE + wantPackets * P.PKT_BYTES_PER_PACKET + 64 + wantSpan;
    const at = this.#host.arena.alloc(bytes);
    if (this.#winBytes) this.#host.arena.release(this.#win, this.#winBytes);
    this.#win = at;
    this.#winBytes = bytes;
    this.#winPackets = wantPackets;
    this.#winSpan = wantSpan;
  }

  /**
   * Decodes, tracks and classifies every packet of `batch`, in order, with the
   * published policy of the tracker's instance. Returns one verdict per packet
   * (reused from `out` when it has the batch's length): `actions[i]` 1 accept / 0 drop,
   * `reasons[i]` (PACKET_REASONS), `ruleIds[i]`, and `verdict(i)` →
   * { action, reason, groupId, ruleIndex, direction }.
   * Throws UNKNOWN_INSTANCE when a publish removed the tracker's instance (nothing is
   * classified, state is kept), TRACKER_CLOSED after close().
   */
  classifyPackets(batch: PacketBatch, out?: PacketVerdicts): PacketVerdicts {
    this.#open('classifyPackets');
    const d = packetBatchData(batch);
    const policy = this.#host.policy();
    if (!this.#chains) {
      throw new SgfilterError('UNKNOWN_INSTANCE', `the published policy (version ${policy.version}) has no instance "${this.instance}"; tracked connections are kept until it comes back`);
    }
    const n = d.offsets.length;
    const verdicts = out instanceof PacketVerdicts && out.length === n ? out : new PacketVerdicts(n);
    let start = 0;
    while (start < n) {
      // One call for the whole batch unless it is huge; then windows of packets.
      let end = n;
      let spanStart = d.spanStart;
      let spanEnd = d.spanEnd;
      if (start > 0 || n > MAX_WINDOW_PACKETS || d.spanEnd - d.spanStart > MAX_WINDOW_BYTES) {
        spanStart = Infinity;
        spanEnd = 0;
        end = start;
        while (end < n && end - start < MAX_WINDOW_PACKETS) {
          const a = Math.min(spanStart, d.offsets[end]!);
          const b = Math.max(spanEnd, d.offsets[end]! + d.lengths[end]!);
          if (end > start && b - a > MAX_WINDOW_BYTES) break;
          spanStart = a;
          spanEnd = Math.max(a, b);
          end++;
        }
      }
      this.#run(d, start, end, spanStart, spanEnd, policy.address, verdicts);
      start = end;
    }
    verdicts.bind(this.#registry, policy.version);
    return verdicts;
  }

  #run(d: ReturnType<typeof packetBatchData>, start: number, end: number, spanStart: number, spanEnd: number, table: number, v: PacketVerdicts): void {
    const count = end - start;
    this.#fit(count, spanEnd - spanStart);
    this.#views();
    const u32 = this.#u32;
    const w = this.#win;
    const cap = this.#winPackets;
    const times = w + P.PKT_HEADER_SIZE; // 8-aligned
    const offsets = times + cap * 8;
    const lengths = offsets + cap * 4;
    const wire = lengths + cap * 4;
    const links = wire + cap * 4;
    const rules = links + cap * 4;
    const actions = rules + cap * 4;
    const reasons = actions + cap;
    const bytes = align16(reasons + cap);
    this.#f64.set(d.times.subarray(start, end), times / 8);
    u32.set(d.offsets.subarray(start, end), offsets >>> 2);
    u32.set(d.lengths.subarray(start, end), lengths >>> 2);
    u32.set(d.wire.subarray(start, end), wire >>> 2);
    u32.set(d.links.subarray(start, end), links >>> 2);
    this.#u8.set(d.bytes.subarray(spanStart, spanEnd), bytes);
    const h = w >>> 2;
    u32[h + (P.PKT_COUNT_AT >>> 2)] = count;
    u32[h + (P.PKT_BYTES_AT >>> 2)] = bytes;
    u32[h + (P.PKT_BASE_AT >>> 2)] = spanStart;
    u32[h + (P.PKT_OFFSETS_AT >>> 2)] = offsets;
    u32[h + (P.PKT_LENGTHS_AT >>> 2)] = lengths;
    u32[h + (P.PKT_WIRE_AT >>> 2)] = wire;
    u32[h + (P.PKT_TIMES_AT >>> 2)] = times;
    u32[h + (P.PKT_LINKS_AT >>> 2)] = links;
    u32[h + (P.PKT_OUT_ACTIONS_AT >>> 2)] = actions;
    u32[h + (P.PKT_OUT_REASONS_AT >>> 2)] = reasons;
    u32[h + (P.PKT_OUT_RULES_AT >>> 2)] = rules;
    this.#x.trackPackets(table, this.#st, w);
    this.#views();
    v.actions.set(this.#u8.subarray(actions, actions + count), start);
    v.reasons.set(this.#u8.subarray(reasons, reasons + count), start);
    v.ruleIds.set(new Int32Array(this.#u32.buffer, rules, count), start);
  }

  /** Counts: connections, fragments, packets by action and reason. */
  stats(): TrackerStats {
    this.#open('stats');
    this.#views();
    const u32 = this.#u32;
    const f64 = this.#f64;
    const h = this.#st >>> 2;
    const c = (this.#st + P.TRK_COUNTERS_AT) / 8;
    const r = (this.#st + P.TRK_REASONS_AT) / 8;
    const reason = (action: number, code: number) => f64[r + action * P.REASON_SLOTS + code]!;
    const now = f64[(this.#st + P.TRK_NOW_AT) / 8]!;
    return {
      tracked: u32[h + (P.TRK_TRACKED_AT >>> 2)]!,
      capacity: this.capacity,
      opened: f64[c + P.COUNTER_OPENED]!,
      expired: f64[c + P.COUNTER_EXPIRED]!,
      removed: f64[c + P.COUNTER_REMOVED]!,
      fragments: {
        tracked: u32[h + (P.TRK_FRAG_COUNT_AT >>> 2)]!,
        capacity: this.fragmentCapacity,
        recorded: f64[c + P.COUNTER_FRAGMENTS]!,
        expired: f64[c + P.COUNTER_FRAGMENTS_EXPIRED]!,
        unrecorded: f64[c + P.COUNTER_FRAGMENTS_UNRECORDED]!,
      },
      packets: f64[c + P.COUNTER_PACKETS]!,
      bytes: f64[c + P.COUNTER_BYTES]!,
      accepted: {
        rule: reason(1, P.REASON_RULE),
        established: reason(1, P.REASON_ESTABLISHED),
        related: reason(1, P.REASON_RELATED),
      },
      dropped: {
        rule: reason(0, P.REASON_RULE),
        default: reason(0, P.REASON_DEFAULT),
        malformed: reason(0, P.REASON_MALFORMED),
        fragment: reason(0, P.REASON_FRAGMENT),
        'table-full': reason(0, P.REASON_TABLE_FULL),
        'not-local': reason(0, P.REASON_NOT_LOCAL),
        'not-ip': reason(0, P.REASON_NOT_IP),
      },
      latestTime: now === -Infinity ? null : now,
    };
  }

  /**
   * Packets and bytes each rule decided (reason `rule`, accepted or dropped), since
   * creation or the last resetRuleHits: every rule of the published policy in order
   * (`current: true`), then rules of earlier policies that decided packets and are no
   * longer published as they were (`current: false`: edited, moved by an insert or a
   * removal, or removed), each with its own rule and action. A rule's counters carry
   * over a publish only when the same rule stays at the same position (docs/SEMANTICS.md,
   * "Rule hits").
   */
  ruleHits(): RuleHit[] {
    this.#open('ruleHits');
    this.#views();
    const base = this.#hits / 8;
    const map = new Uint32Array(this.#u32.buffer, this.#map, this.#rules.length);
    const current = new Set<number>();
    const hit = (tid: number, isCurrent: boolean): RuleHit => {
      const r = this.#registry[tid]!;
      const text: RuleHitText = { protocol: r.rule.text.protocol, port: r.rule.text.port, peer: r.rule.text.peer };
      if (r.rule.local !== null) text.localCidr = addressSetText(r.rule.local);
      if (r.rule.sourcePorts !== null) text.sourcePort = formatPorts(r.rule.sourcePorts);
      if (r.rule.icmpType !== null) text.icmpType = r.rule.icmpType;
      if (r.rule.icmpCode !== null) text.icmpCode = r.rule.icmpCode;
      if (typeof r.rule.description === 'string') text.description = r.rule.description;
      const h = {
        groupId: r.groupId, direction: r.direction, ruleIndex: r.ruleIndex, action: r.action, current: isCurrent, text,
        policyVersion: r.policyVersion, packets: this.#f64[base + 2 * tid]!, bytes: this.#f64[base + 2 * tid + 1]!,
      } as RuleHit;
      Object.defineProperty(h, 'rule', { value: r.rule, enumerable: false });
      return h;
    };
    const out: RuleHit[] = [];
    for (let id = 0; id < this.#rules.length; id++) {
      const tid = map[id]!;
      current.add(tid);
      out.push(hit(tid, true));
    }
    for (let tid = 0; tid < this.#hitsCount; tid++) {
      if (!current.has(tid) && this.#f64[base + 2 * tid]! > 0) out.push(hit(tid, false));
    }
    return out;
  }

  /** Sets every rule counter to zero. */
  resetRuleHits(): void {
    this.#open('resetRuleHits');
    this.#views();
    this.#f64.fill(0, this.#hits / 8, this.#hits / 8 + this.#hitsCount * 2);
  }

  /** Every tracked connection (for inspection and tests; O(tracked)). */
  connections(): TrackedConnection[] {
    this.#open('connections');
    this.#views();
    const u8 = this.#u8;
    const u32 = this.#u32;
    const dv = new DataView(this.#u8.buffer);
    const entries = u32[(this.#st + P.TRK_ENTRIES_AT) >>> 2]!;
    const out: TrackedConnection[] = [];
    const address = (at: number, v6: boolean): string => {
      let a = 0n;
      for (let k = 0; k < (v6 ? 4 : 1); k++) a = (a << 32n) | BigInt(u32[(at >>> 2) + k]!);
      return formatAddress(v6, a);
    };
    for (let cls = 0; cls < P.CONN_CLASSES; cls++) {
      let e = u32[(this.#st + P.TRK_LISTS_AT + cls * 8) >>> 2]!;
      while (e !== P.NIL) {
        const c = entries + e * P.CONN_SIZE;
        const v6 = (u8[c + P.CONN_FAMILY_AT]! & P.CONN_KEY_V6) !== 0;
        const proto = u8[c + P.CONN_PROTO_AT]!;
        const ports = u32[(c + P.CONN_PORTS_AT) >>> 2]!;
        const hasPorts = proto === 6 || proto === 17;
        const echo = (u8[c + P.CONN_FAMILY_AT]! & P.CONN_KEY_ECHO) !== 0;
        out.push({
          protocol: proto,
          local: address(c + P.CONN_LOCAL_AT, v6),
          remote: address(c + P.CONN_REMOTE_AT, v6),
          localPort: hasPorts ? ports & 0xffff : null,
          remotePort: hasPorts ? ports >>> 16 : null,
          identifier: echo ? ports >>> 16 : null,
          state: STATES[u8[c + P.CONN_CLASS_AT]!]!,
          opener: u8[c + P.CONN_FLAGS_AT]! & P.CONN_OPENER_LOCAL ? 'outbound' : 'inbound',
          expires: dv.getFloat64(c + P.CONN_EXPIRES_AT, true),
        });
        e = u32[(c + P.CONN_NEXT_AT) >>> 2]!;
      }
    }
    return out;
  }

  /** Frees the tracker's memory; later calls throw TRACKER_CLOSED. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    const arena = this.#host.arena;
    arena.release(this.#st, this.#stBytes);
    if (this.#localsBytes || this.#locals) arena.release(this.#locals, this.#localsBytes);
    if (this.#hitsBytes || this.#hits) arena.release(this.#hits, this.#hitsBytes);
    if (this.#mapBytes || this.#map) arena.release(this.#map, this.#mapBytes);
    if (this.#winBytes) arena.release(this.#win, this.#winBytes);
  }
}

export { PACKET_REASONS, PacketVerdicts, type PacketReason };
