/**
 * The rule lists a policy evaluates (docs/SEMANTICS.md "The verdict"): per direction,
 * one per distinct group order, with the instances bound to it. Instances with the
 * same groups in the same order decide every flow alike, so lint and diff analyse
 * each order once, as the compiler builds one classifier per order.
 */
import type { Config, Direction, Rule, SecurityGroup } from '../types.js';

export const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];

/** One direction of one group order. */
export interface Chain {
  direction: Direction;
  /** Group ids, highest priority first. */
  groups: readonly string[];
  /** The instances bound to exactly these groups in this order, in config order. */
  instances: string[];
  /** How many rules the chain has (known without merging them). */
  length: number;
  /** The merged rule list, in evaluation order: made when first read (a policy with many group orders never holds them all unless each is analysed). */
  readonly rules: Rule[];
}

/** How many rules `groups` give for `direction`, without merging them. */
export function chainLength(groups: readonly string[], byId: ReadonlyMap<string, SecurityGroup>, direction: Direction): number {
  let n = 0;
  for (const id of groups) n += byId.get(id)?.[direction].length ?? 0;
  return n;
}

/** The groups of a config by id (a Map: ids are user text). */
export function groupsById(config: Config): Map<string, SecurityGroup> {
  return new Map(config.securityGroups.map((g) => [g.id, g]));
}

/** The rules an instance's groups give for `direction`, in evaluation order. */
export function mergedRules(groups: readonly string[], byId: ReadonlyMap<string, SecurityGroup>, direction: Direction): Rule[] {
  const out: Rule[] = [];
  for (const id of groups) {
    const g = byId.get(id);
    // A loop, not push(...): a 200,000-rule group overflows the call stack.
    if (g) for (const r of g[direction]) out.push(r);
  }
  return out;
}

/** The key of a group order: each id length-prefixed, so two different orders never share a key whatever characters the ids hold. */
export const orderKey = (groups: readonly string[]): string => groups.map((g) => `${g.length}:${g}`).join('');

/** Every chain of `config`: per direction, each distinct group order once, in the order instances first use it. */
export function chainsOf(config: Config): Chain[] {
  const byId = groupsById(config);
  const out: Chain[] = [];
  for (const direction of DIRECTIONS) {
    const seen = new Map<string, Chain>();
    for (const inst of config.instances) {
      const key = orderKey(inst.securityGroups);
      const c = seen.get(key);
      if (c) {
        c.instances.push(inst.id);
        continue;
      }
      const groups = inst.securityGroups;
      let rules: Rule[] | null = null;
      const chain: Chain = {
        direction, groups, instances: [inst.id], length: chainLength(groups, byId, direction),
        get rules() {
          return (rules ??= mergedRules(groups, byId, direction));
        },
      };
      seen.set(key, chain);
      out.push(chain);
    }
  }
  return out;
}
