/**
 * A table and its metadata must describe one policy. Checked after each passed its own
 * shape check (./table.ts, ./meta.ts):
 *
 *   - every rule id a classifier can return names a rule of the config, and the box's
 *     action byte is that rule's action: classifyBatch's actions (the bytes) and
 *     verdict(i) (the rule) can never disagree;
 *   - the instances are the config's, in its order, and each names an inbound and an
 *     outbound chain of the table;
 *   - each chain holds only rules of its instance's groups for its direction, in
 *     priority order (group order, then rule order): a table spliced with another
 *     config's metadata is refused unless that config has the very same groups, rules,
 *     actions and bindings;
 *   - the stats describe this table (its size, classifier and box counts).
 *
 * What no check short of compiling the config again can see: the match fields of a rule
 * (a peer, a port) differing between table and config. That is what the signature of a
 * keyed snapshot is for.
 */
import { SgfilterError } from '../errors.js';
import type { RuleRef } from '../compile/index.js';
import type { Direction } from '../types.js';
import type { SnapshotMeta } from './meta.js';
import type { TableShape } from './table.js';
import { quote, quotedList } from '../config/plain.js';

const invalid = (message: string) => new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: table and metadata disagree: ${message}`);

export function checkConsistency(shape: TableShape, meta: SnapshotMeta, refs: RuleRef[], tableBytes: number): void {
  const { config, instances, stats } = meta;
  shape.classifiers.forEach((c, i) => {
    for (let b = 0; b < c.ruleIds.length; b++) {
      const id = c.ruleIds[b]!;
      const ref = refs[id];
      if (ref === undefined) throw invalid(`classifier ${i}, box ${b}: rule id ${id}, but the config has ${refs.length} rules`);
      if (c.actions[b] !== (ref.action === 'accept' ? 1 : 0)) {
        throw invalid(`classifier ${i}, box ${b}: action byte ${c.actions[b]}, but rule ${id} (group ${quote(ref.groupId)} ${ref.direction} #${ref.ruleIndex}) is ${ref.action}`);
      }
    }
  });

  if (instances.length !== config.instances.length) throw invalid(`${instances.length} instances with chains, the config has ${config.instances.length}`);
  const checked = new Set<string>();
  instances.forEach(([id, inbound, outbound], i) => {
    const inst = config.instances[i]!;
    if (id !== inst.id) throw invalid(`instance ${i} is ${quote(id)} in the chain list, ${quote(inst.id)} in the config`);
    for (const [dir, chain] of [['inbound', inbound], ['outbound', outbound]] as [Direction, number][]) {
      if (chain >= shape.chains.length) throw invalid(`instance ${quote(id)} ${dir}: chain ${chain}, the table has ${shape.chains.length}`);
      const key = `${chain}\u0000${dir}\u0000${inst.securityGroups.join('\u0000')}`;
      if (checked.has(key)) continue;
      checked.add(key);
      checkChain(shape, refs, chain, dir, inst.securityGroups, `instance ${quote(id)} ${dir} (chain ${chain})`);
    }
  });

  const boxes = shape.classifiers.reduce((n, c) => n + c.ruleIds.length, 0);
  if (stats.total !== tableBytes || stats.classifiers !== shape.classifiers.length || stats.boxes !== boxes) {
    throw invalid(`stats say ${stats.total} bytes, ${stats.classifiers} classifiers, ${stats.boxes} boxes; the table has ${tableBytes}, ${shape.classifiers.length}, ${boxes}`);
  }
}

/** The boxes of `chain`, in order, are rules of `groups` for `dir`, in priority order. */
function checkChain(shape: TableShape, refs: RuleRef[], chain: number, dir: Direction, groups: string[], where: string): void {
  const rank = new Map(groups.map((g, i) => [g, i]));
  let lastGroup = 0;
  let lastRule = -1;
  for (const link of shape.chains[chain]!) {
    const ids = shape.classifiers[link]!.ruleIds;
    for (let b = 0; b < ids.length; b++) {
      const ref = refs[ids[b]!]!;
      const g = rank.get(ref.groupId);
      const what = () => `classifier ${link}, box ${b}: rule ${ids[b]} (group ${quote(ref.groupId)} ${ref.direction} #${ref.ruleIndex})`;
      if (ref.direction !== dir || g === undefined) throw invalid(`${where}: ${what()} is not an ${dir} rule of its groups (${quotedList(groups)})`);
      // Strictly later, but for the boxes of one rule side by side in one classifier
      // (a ping rule is two: ICMP and ICMPv6): a rule is never tried twice.
      const again = g === lastGroup && ref.ruleIndex === lastRule && b > 0 && ids[b - 1] === ids[b];
      if (g < lastGroup || (g === lastGroup && ref.ruleIndex < lastRule)) throw invalid(`${where}: ${what()} comes after a rule of higher priority`);
      if (g === lastGroup && ref.ruleIndex === lastRule && !again) throw invalid(`${where}: ${what()} is tried twice`);
      lastGroup = g;
      lastRule = ref.ruleIndex;
    }
  }
}
