/**
 * The work of `sgfilter replay` on each batch a capture reader yields: the batch's
 * packets go to the tracker (createPacketBatch → classifyPackets, state carried from
 * batch to batch in capture order), the policy changes that fall inside it are
 * published between the packets they separate, and its answers become keep flags
 * for the accepted and dropped outputs, counters, and verdict JSON lines.
 *
 * Nothing here is per packet in JavaScript but three plain loops over typed arrays
 * (keep flags and bytes by reason; the verdict lines, only when asked for); the
 * decoding, tracking and classifying of a batch is one WASM call per policy segment.
 */
import type { CaptureBatch } from '../capture/batch.js';
import type { Engine } from '../engine.js';
import { MAX_TIME, createPacketBatch } from '../packets/batch.js';
import type { Tracker } from '../packets/tracker.js';
import { PACKET_REASONS, PacketVerdicts } from '../packets/verdicts.js';
import type { Config } from '../types.js';
import type { ChangePoint, PolicyChangeSpec } from './replay-options.js';
import { terminalText } from './shared.js';

/** Reason codes (PACKET_REASONS) per action: counters are indexed action * REASON_SLOTS + reason. */
export const REASON_SLOTS = 16;

/** A --policy-change with its loaded config, and what happened to it. */
export interface PolicyChange {
  spec: PolicyChangeSpec;
  config: Config;
  /** Once published: the packet number (1-based) it came before, the policy version, and the connections the re-check removed. */
  applied?: { beforePacket: number; version: number; removed: number };
}

/** The keep flags of one batch for the outputs: 1 = write the packet. */
export interface BatchFlags {
  accepted: Uint8Array;
  dropped: Uint8Array;
}

/**
 * A verdict line's text after `{"n":N` for each (action, reason, rule): built once
 * per key. A tracker's rule ids name a rule position for good (across publishes), and
 * a position keeps its group id and index, but its action may change with the policy,
 * so rule keys hold the action too.
 */
class VerdictSuffixes {
  readonly #byReason: string[] = [];
  readonly #byRule = new Map<number, string>();

  constructor() {
    for (const action of [0, 1]) {
      PACKET_REASONS.forEach((reason, code) => {
        this.#byReason[action * REASON_SLOTS + code] = `,"action":"${action ? 'accept' : 'drop'}","reason":"${reason}"}\n`;
      });
    }
  }

  reason(action: number, code: number): string {
    return this.#byReason[action * REASON_SLOTS + code]!;
  }

  rule(v: PacketVerdicts, i: number): string {
    const key = v.ruleIds[i]! * 2 + v.actions[i]!;
    let s = this.#byRule.get(key);
    if (s === undefined) {
      const verdict = v.verdict(i);
      // JSON escapes C0; the other characters a terminal obeys (DEL, C1, bidi marks) are
      // escaped as \uXXXX too, which JSON reads as the same string.
      s = `,"action":"${verdict.action}","reason":"rule","groupId":${terminalText(JSON.stringify(verdict.groupId))},"ruleIndex":${verdict.ruleIndex}}\n`;
      this.#byRule.set(key, s);
    }
    return s;
  }
}

const RULE = PACKET_REASONS.indexOf('rule');

export interface ReplayRunOptions {
  engine: Engine;
  tracker: Tracker;
  /** In the order given on the command line. */
  changes: PolicyChange[];
  /** Build verdict JSON lines. */
  verdictLines: boolean;
  /** Packets per batch at most (the reader's batchSize): the flags' length. */
  batchSize: number;
}

/** A replay in progress: feed it every batch of the capture, in order. */
export class ReplayRun {
  /** Packets classified, and their wire bytes. */
  packets = 0;
  bytes = 0;
  /** Packets and wire bytes by action * REASON_SLOTS + reason. */
  readonly packetsBy = new Float64Array(2 * REASON_SLOTS);
  readonly bytesBy = new Float64Array(2 * REASON_SLOTS);
  /** Packets whose timestamp was past ±2^40 s, counted as that bound; the first one's number. */
  clampedTimes = 0;
  firstClamped = 0;
  readonly #o: ReplayRunOptions;
  readonly #pending: PolicyChange[];
  readonly #flags: BatchFlags;
  readonly #actions: Uint8Array;
  readonly #reasons: Uint8Array;
  readonly #times: Float64Array;
  readonly #suffixes = new VerdictSuffixes();
  #verdicts: PacketVerdicts | undefined;

  constructor(options: ReplayRunOptions) {
    this.#o = options;
    this.#pending = [...options.changes];
    const n = options.batchSize;
    this.#flags = { accepted: new Uint8Array(n), dropped: new Uint8Array(n) };
    this.#actions = this.#flags.accepted; // accept = 1: the actions are the accepted output's flags
    this.#reasons = new Uint8Array(n);
    this.#times = new Float64Array(n);
  }

  /**
   * Classifies every packet of `batch` (publishing the policy changes due inside it),
   * counts them, and returns the outputs' keep flags (valid until the next call) and
   * the batch's verdict lines ('' unless asked for).
   */
  async classify(batch: CaptureBatch): Promise<{ flags: BatchFlags; lines: string }> {
    const n = batch.count;
    const first = batch.firstPacketIndex;
    const times = this.#timesOf(batch);
    let lines = '';
    let s = 0;
    while (s < n) {
      await this.#publishDue(first + s, times[s]!);
      const e = this.#segmentEnd(first, s, n, times);
      const v = this.#classifySegment(batch, times, s, e);
      if (this.#o.verdictLines) lines += this.#lines(v, first + s);
      s = e;
    }
    this.#count(batch);
    return { flags: this.#flags, lines };
  }

  /** The policy changes whose point no packet reached (a packet number past the capture's last, a time after its latest). */
  get notReached(): PolicyChange[] {
    return this.#pending;
  }

  /** The batch's timestamps, each within ±2^40 s (a tracker takes no others); out-of-range ones counted. */
  #timesOf(batch: CaptureBatch): Float64Array {
    const n = batch.count;
    const src = batch.timestamps;
    let clean = true;
    for (let i = 0; i < n; i++) {
      const t = src[i]!;
      if (!(t <= MAX_TIME && t >= -MAX_TIME)) {
        clean = false;
        break;
      }
    }
    if (clean) return src;
    const out = this.#times;
    for (let i = 0; i < n; i++) {
      const t = src[i]!;
      if (t <= MAX_TIME && t >= -MAX_TIME) out[i] = t;
      else {
        // Past the year 36,000 (or NaN, which a reader never gives): the latest time a tracker takes.
        out[i] = t < 0 ? -MAX_TIME : MAX_TIME;
        if (this.clampedTimes++ === 0) this.firstClamped = batch.firstPacketIndex + i + 1;
      }
    }
    return out;
  }

  #due(at: ChangePoint, index: number, time: number): boolean {
    return 'packet' in at ? at.packet - 1 <= index : time >= at.time;
  }

  async #publishDue(index: number, time: number): Promise<void> {
    for (let k = 0; k < this.#pending.length;) {
      const change = this.#pending[k]!;
      if (!this.#due(change.spec.at, index, time)) {
        k++;
        continue;
      }
      this.#pending.splice(k, 1);
      const removedBefore = this.#o.tracker.stats().removed;
      const version = await this.#o.engine.reload(change.config);
      change.applied = { beforePacket: index + 1, version, removed: this.#o.tracker.stats().removed - removedBefore };
    }
  }

  /** One past the last packet of the segment that starts at `s`: the next change point inside the batch, or its end. */
  #segmentEnd(first: number, s: number, n: number, times: Float64Array): number {
    let end = n;
    for (const change of this.#pending) {
      const at = change.spec.at;
      if ('packet' in at) {
        const i = at.packet - 1 - first;
        if (i > s && i < end) end = i;
      } else {
        for (let i = s + 1; i < end; i++) {
          if (times[i]! >= at.time) {
            end = i;
            break;
          }
        }
      }
    }
    return end;
  }

  #classifySegment(batch: CaptureBatch, times: Float64Array, s: number, e: number): PacketVerdicts {
    const packets = createPacketBatch({
      bytes: batch.data,
      offsets: batch.offsets.subarray(s, e),
      lengths: batch.capturedLengths.subarray(s, e),
      timestamps: times.subarray(s, e),
      linkType: batch.linkTypes.subarray(s, e),
      wireLengths: batch.originalLengths.subarray(s, e),
    });
    const v = this.#o.tracker.classifyPackets(packets, this.#verdicts);
    this.#verdicts = v;
    this.#actions.set(v.actions, s);
    this.#reasons.set(v.reasons, s);
    return v;
  }

  /** The verdict lines of a segment whose first packet has 0-based number `base`. */
  #lines(v: PacketVerdicts, base: number): string {
    const { actions, reasons } = v;
    const sfx = this.#suffixes;
    let out = '';
    for (let i = 0; i < v.length; i++) {
      const reason = reasons[i]!;
      out += `{"n":${base + i + 1}${reason === RULE ? sfx.rule(v, i) : sfx.reason(actions[i]!, reason)}`;
    }
    return out;
  }

  /** Dropped flags and the counters, for the whole batch. */
  #count(batch: CaptureBatch): void {
    const n = batch.count;
    const actions = this.#actions;
    const reasons = this.#reasons;
    const dropped = this.#flags.dropped;
    const wire = batch.originalLengths;
    const captured = batch.capturedLengths;
    const packetsBy = this.packetsBy;
    const bytesBy = this.bytesBy;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const a = actions[i]!;
      // As the tracker counts: the wire length, or the captured bytes when a record claims fewer.
      const w = Math.max(wire[i]!, captured[i]!);
      const k = a * REASON_SLOTS + reasons[i]!;
      dropped[i] = a ^ 1;
      packetsBy[k] = packetsBy[k]! + 1;
      bytesBy[k] = bytesBy[k]! + w;
      bytes += w;
    }
    this.packets += n;
    this.bytes += bytes;
  }
}
