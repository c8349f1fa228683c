/**
 * Packet verdicts (docs/SEMANTICS.md, "Packets"): an action and its reason per packet,
 * with the deciding rule for reason `rule`.
 */
import { SgfilterError } from '../errors.js';
import type { Action, Direction } from '../types.js';
import * as P from '../../assembly/packet-layout.js';

/** A rule by position, as verdicts name it. */
export interface RuleName {
  groupId: string;
  direction: Direction;
  ruleIndex: number;
}

/** Why a packet got its action. */
export type PacketReason = 'rule' | 'default' | 'established' | 'related' | 'malformed' | 'fragment' | 'table-full' | 'not-local' | 'not-ip';

/** Reason names by code (the REASON_* numbers of assembly/packet-layout.ts). */
export const PACKET_REASONS: readonly PacketReason[] = Object.freeze(((): PacketReason[] => {
  const names: PacketReason[] = [];
  names[P.REASON_RULE] = 'rule';
  names[P.REASON_DEFAULT] = 'default';
  names[P.REASON_ESTABLISHED] = 'established';
  names[P.REASON_RELATED] = 'related';
  names[P.REASON_MALFORMED] = 'malformed';
  names[P.REASON_FRAGMENT] = 'fragment';
  names[P.REASON_TABLE_FULL] = 'table-full';
  names[P.REASON_NOT_LOCAL] = 'not-local';
  names[P.REASON_NOT_IP] = 'not-ip';
  return names;
})());

/** One packet's verdict. `groupId`/`ruleIndex`/`direction` name the rule for reason `rule`, else null. */
export interface PacketVerdict {
  /** What happens to the packet. */
  action: Action;
  /** Why (docs/SEMANTICS.md, "Packets"): `rule` and `default` come from the rules, the others from state or decoding. */
  reason: PacketReason;
  /** The deciding rule's security group (reason `rule`), else null. */
  groupId: string | null;
  /** The deciding rule's 0-based index in its group's list for `direction` (reason `rule`), else null. */
  ruleIndex: number | null;
  /** The direction of the deciding rule's list (reason `rule`), else null. */
  direction: Direction | null;
}

/**
 * The answers of one classifyPackets call, in the batch's packet order:
 * `actions[i]` 1 accept / 0 drop, `reasons[i]` a code of PACKET_REASONS, `ruleIds[i]`
 * the tracker's id of the deciding rule for reason `rule` (-1 otherwise; a tracker
 * names rules by position for good, so the ids stay valid across publishes: a later
 * fragment may be decided by a rule of the policy its first fragment saw).
 * `verdict(i)` resolves them.
 */
export class PacketVerdicts {
  /** Packets answered (the batch's length). */
  readonly length: number;
  /** Per packet: 1 accept, 0 drop. */
  readonly actions: Uint8Array;
  /** Per packet: the reason's code, an index into {@link PACKET_REASONS}. */
  readonly reasons: Uint8Array;
  /** Per packet: the tracker's id of the deciding rule for reason `rule`, else -1 (resolved by `verdict(i)`). */
  readonly ruleIds: Int32Array;
  /** Version of the policy the packets were classified with. */
  policyVersion = -1;
  #rules: readonly RuleName[] = [];

  constructor(length: number) {
    this.length = length;
    this.actions = new Uint8Array(length);
    this.reasons = new Uint8Array(length);
    this.ruleIds = new Int32Array(length).fill(-1);
  }

  /** @internal the rules that ruleIds refer to. */
  bind(rules: readonly RuleName[], version: number): void {
    this.#rules = rules;
    this.policyVersion = version;
  }

  #check(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new SgfilterError('INVALID_ARGUMENT', `packet index ${i} is outside 0-${this.length - 1}`);
  }

  /** Reason name of packet i. */
  reason(i: number): PacketReason {
    this.#check(i);
    return PACKET_REASONS[this.reasons[i]!]!;
  }

  /** Verdict of packet i: action, reason and (reason `rule`) the deciding rule. */
  verdict(i: number): PacketVerdict {
    this.#check(i);
    const reason = PACKET_REASONS[this.reasons[i]!]!;
    const id = this.ruleIds[i]!;
    const rule = reason === 'rule' && id >= 0 ? this.#rules[id] : undefined;
    return {
      action: this.actions[i] ? 'accept' : 'drop',
      reason,
      groupId: rule ? rule.groupId : null,
      ruleIndex: rule ? rule.ruleIndex : null,
      direction: rule ? rule.direction : null,
    };
  }
}
