/**
 * What an egress guard may decide before the kernel has picked the connection's
 * local end.
 *
 * Before connect() the guard knows the destination but, unless the caller bound
 * them, not the local address or the source port: the kernel picks both at connect
 * time. A flow without those fields is not matched by a rule that names them (SPEC
 * §2), so its verdict can differ from the real connection's both ways:
 *
 * - a drop rule naming `localCidr`/`sourcePort` is skipped: the early verdict may be
 *   accept where the real flow is dropped. The guard therefore classifies again at
 *   connect time, with the socket's real five-tuple (src/node/egress.ts), before any
 *   byte is written.
 * - an accept rule naming them is skipped too: the early verdict may be drop where
 *   the real flow is accepted. Refusing then would be wrong, so an early drop stands
 *   only when no accept rule naming an unknown field comes before the deciding rule
 *   and matches the flow in everything else. Otherwise the connection is dialled and
 *   decided at connect time.
 *
 * Proof that an early drop that passes this test is the real verdict for every local
 * end: the real flow's first matching rule r either names no unknown field (then it
 * matches the early flow too, and the early verdict's rule is r or a rule before it;
 * with a drop verdict and no earlier candidate accept, r's action is drop), or names
 * one (then r matches the early flow in everything else; an accept r would be a
 * candidate, so r is a drop). No matching rule: the default drop.
 */
import type { Config, Direction, FlowInput, Rule, Verdict } from '../types.js';
import { mismatch } from '../reference.js';
import { parseFlow } from '../flow.js';

/** An accept rule that names a local-end field, and its place in the instance's first-match order. */
interface Candidate {
  rule: Rule;
  /** Priority of the rule's group in the instance (0 = first). */
  group: number;
  names: { local: boolean; sourcePort: boolean };
}

/** Per published config, per instance id: its outbound accept rules that name localCidr or sourcePort. */
const CANDIDATES = new WeakMap<Config, Map<string, Candidate[]>>();

function candidatesOf(config: Config, instanceId: string, direction: Direction): Candidate[] {
  let perInstance = CANDIDATES.get(config);
  if (!perInstance) CANDIDATES.set(config, (perInstance = new Map()));
  let list = perInstance.get(instanceId);
  if (list) return list;
  list = [];
  const instance = config.instances.find((i) => i.id === instanceId);
  const groups = instance?.securityGroups ?? [];
  for (let g = 0; g < groups.length; g++) {
    const group = config.securityGroups.find((x) => x.id === groups[g]);
    for (const rule of (direction === 'outbound' ? group?.outbound : group?.inbound) ?? []) {
      if (rule.action !== 'accept' || (rule.local === null && rule.sourcePorts === null)) continue;
      list.push({ rule, group: g, names: { local: rule.local !== null, sourcePort: rule.sourcePorts !== null } });
    }
  }
  perInstance.set(instanceId, list);
  return list;
}

/**
 * True when `verdict` (the engine's drop for `flow`, a flow whose local address and/or
 * source port are not known yet) might be an accept once the kernel fills them in:
 * an accept rule naming a missing field, before the deciding rule, matches `flow` in
 * every other field. `config` is the policy `verdict` came from. Cost: nothing unless
 * the instance has such accept rules; then one reference match per such rule.
 */
export function mayAcceptOnceConnected(config: Config, flow: FlowInput, verdict: Verdict): boolean {
  const instanceId = flow.instance ?? config.instances[0]?.id;
  if (instanceId === undefined) return false;
  const list = candidatesOf(config, instanceId, flow.direction as Direction);
  if (list.length === 0) return false;
  const missingLocal = flow.local === undefined || flow.local === null;
  const missingPort = flow.sourcePort === undefined || flow.sourcePort === null;
  if (!missingLocal && !missingPort) return false;
  const groups = config.instances.find((i) => i.id === instanceId)!.securityGroups;
  const decidingGroup = verdict.groupId === null ? Infinity : groups.indexOf(verdict.groupId);
  const decidingIndex = verdict.ruleIndex ?? Infinity;
  let parsed;
  for (const c of list) {
    if (c.group > decidingGroup || (c.group === decidingGroup && c.rule.ruleIndex >= decidingIndex)) continue;
    if ((c.names.local && !missingLocal && !c.names.sourcePort) || (c.names.sourcePort && !missingPort && !c.names.local)) continue;
    // The rule with the missing fields read as "any": does it match in everything else?
    const loose: Rule = { ...c.rule, local: missingLocal ? null : c.rule.local, sourcePorts: missingPort ? null : c.rule.sourcePorts };
    parsed ??= parseFlow(flow);
    if (mismatch(loose, parsed, config) === null) return true;
  }
  return false;
}

/**
 * Whether a guard must read the socket's local end for the verdict to be the real one:
 * true when a rule of `instanceId` (undefined: the config's first instance) in
 * `direction` names localCidr or source ports. A rule that names neither matches a
 * flow whatever its local address and source port (docs/SEMANTICS.md: a null field
 * matches any flow, also one without it), so when no rule names them, the verdict
 * without them is the verdict with them. An instance the config does not have answers
 * true (the engine refuses the flow anyway). O(rules): callers remember it per config.
 */
export function namesLocalEnd(config: Config, instanceId: string | undefined, direction: Direction): boolean {
  const id = instanceId ?? config.instances[0]?.id;
  const instance = id === undefined ? undefined : config.instances.find((i) => i.id === id);
  if (!instance) return true;
  for (const groupId of instance.securityGroups) {
    const group = config.securityGroups.find((g) => g.id === groupId);
    // A group the instance names but the config lacks cannot pass validation; read everything if it did.
    if (!group) return true;
    for (const rule of direction === 'outbound' ? group.outbound : group.inbound) {
      if (rule.local !== null || rule.sourcePorts !== null) return true;
    }
  }
  return false;
}
