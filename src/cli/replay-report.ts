/**
 * The report `sgfilter replay` ends with: what was replayed, hits per rule (packets,
 * bytes) with the default drop, packets and bytes by action and reason, the state
 * counts (connections and fragments), what was written, and hints where the numbers
 * point at a mistake (a full table, no packet of the instance's).
 */
import { linkTypeName } from '../capture/link-types.js';
import { formatAddress } from '../config/address.js';
import type { RuleHit, TrackerStats } from '../packets/tracker.js';
import { PACKET_REASONS } from '../packets/verdicts.js';
import type { AddressRange, Config, Rule } from '../types.js';
import { REASON_SLOTS, type PolicyChange, type ReplayRun } from './replay-run.js';
import { count, displayPath, grouped, ruleText, table, terminalText } from './shared.js';

export interface ReplayReportInput {
  capture: { name: string; format: string | undefined; linkTypes: number[]; bytesRead: number };
  configPath: string;
  config: Config;
  changes: PolicyChange[];
  instance: string;
  /** The instance's own addresses as the tracker has them (config addresses and --local, merged). */
  addresses: { v4: AddressRange[]; v6: AddressRange[] };
  fromLocalOption: boolean;
  recheck: boolean;
  run: ReplayRun;
  stats: TrackerStats;
  hits: RuleHit[];
  elapsedMs: number;
  written: string[];
  notes: string[];
}

const ACCEPT_REASONS = ['rule', 'established', 'related'] as const;
const DROP_REASONS = ['rule', 'default', 'malformed', 'fragment', 'table-full', 'not-local', 'not-ip'] as const;
const code = (reason: string) => PACKET_REASONS.indexOf(reason as (typeof PACKET_REASONS)[number]);

/** An address range as written: one address, a CIDR when it is one, else first-last. */
function rangeText(v6: boolean, r: AddressRange): string {
  if (r.lo === r.hi) return formatAddress(v6, r.lo);
  const size = r.hi - r.lo + 1n;
  const bits = v6 ? 128 : 32;
  if ((size & (size - 1n)) === 0n && r.lo % size === 0n) return `${formatAddress(v6, r.lo)}/${bits - (size.toString(2).length - 1)}`;
  return `${formatAddress(v6, r.lo)}-${formatAddress(v6, r.hi)}`;
}

export function addressesText(a: { v4: AddressRange[]; v6: AddressRange[] }, max = 6): string {
  const all = [...a.v4.map((r) => rangeText(false, r)), ...a.v6.map((r) => rangeText(true, r))];
  return all.length <= max ? all.join(', ') : `${all.slice(0, max).join(', ')} … and ${all.length - max} more`;
}

const ruleKey = (groupId: string, direction: string, index: number) => `${groupId}\u0000${direction}\u0000${index}`;

/** The report's lines (user text escaped for the terminal). */
export function replayReport(r: ReplayReportInput): string[] {
  const { run, stats } = r;
  const seconds = r.elapsedMs / 1000;
  const accepted = stats.accepted.rule + stats.accepted.established + stats.accepted.related;
  const links = r.capture.linkTypes.map(linkTypeName).join(', ') || 'no interfaces';
  const out: string[] = [
    `sgfilter replay: ${count(run.packets, 'packet')} (${count(run.bytes, 'byte')} on the wire) in ${seconds.toFixed(2)} s` +
      `${seconds > 0 ? `, ${grouped(Math.round(run.packets / seconds))} packets/s` : ''}: ${grouped(accepted)} accepted, ${grouped(run.packets - accepted)} dropped`,
    `  capture:  ${terminalText(r.capture.name)} (${r.capture.format ?? 'unknown format'}, ${links}; ${count(r.capture.bytesRead, 'byte')} read)`,
    `  config:   ${terminalText(displayPath(r.configPath))}`,
    `  instance: ${terminalText(r.instance)}, addresses ${addressesText(r.addresses)}${r.fromLocalOption ? ' (with --local)' : ''}`,
  ];
  for (const c of r.changes) {
    const what = `policy change ${terminalText(c.spec.text)}`;
    if (!c.applied) out.push(`  ${what}: not reached (no packet came at or after it)`);
    else {
      const removed = r.recheck ? `, ${count(c.applied.removed, 'connection')} removed by --recheck` : ', tracked connections kept (no --recheck)';
      out.push(`  ${what}: published before packet ${grouped(c.applied.beforePacket)} (policy version ${c.applied.version})${removed}`);
    }
  }
  out.push('');

  // Hits per rule: every rule of the instance's groups in priority order (unused ones
  // show 0), then every rule of an earlier policy that decided packets (one a policy
  // change edited, moved or removed), with its own action and description: a rule's
  // hits are never shown under another rule that took its position.
  const hitsByKey = new Map(r.hits.filter((h) => h.current).map((h) => [ruleKey(h.groupId, h.direction, h.ruleIndex), h]));
  const current = r.changes.filter((c) => c.applied).map((c) => c.config).reverse()[0] ?? r.config;
  const rows: string[][] = [['group', 'direction', 'rule', 'action', 'description', 'packets', 'bytes']];
  const shown = new Set<string>();
  const describe = (rule: Rule) => (rule.description !== undefined ? terminalText(rule.description) : ruleText(rule));
  const row = (groupId: string, direction: string, index: number, action: string, desc: string, h: RuleHit | undefined) => {
    rows.push([terminalText(groupId), direction, String(index), action, desc, grouped(h?.packets ?? 0), grouped(h?.bytes ?? 0)]);
  };
  const instance = current.instances.find((i) => i.id === r.instance);
  for (const gid of instance?.securityGroups ?? []) {
    const g = current.securityGroups.find((x) => x.id === gid);
    for (const rule of [...(g?.inbound ?? []), ...(g?.outbound ?? [])]) {
      const key = ruleKey(gid, rule.direction, rule.ruleIndex);
      shown.add(key);
      row(gid, rule.direction, rule.ruleIndex, rule.action, describe(rule), hitsByKey.get(key));
    }
  }
  for (const h of r.hits) {
    if (h.packets === 0 || (h.current && shown.has(ruleKey(h.groupId, h.direction, h.ruleIndex)))) continue;
    const when = h.current ? '' : ` (a rule of policy version ${h.policyVersion}, since edited, moved or removed)`;
    row(h.groupId, h.direction, h.ruleIndex, h.action, describe(h.rule) + when, h);
  }
  const def = 0 * REASON_SLOTS + code('default');
  rows.push(['(none)', '', '', 'drop', 'default drop: no rule matched', grouped(run.packetsBy[def]!), grouped(run.bytesBy[def]!)]);
  const ruleLines = table(rows, new Set([2, 5, 6]));
  out.push('hits per rule (packets the rules decided):', ruleLines[0]!, '-'.repeat(ruleLines[0]!.length), ...ruleLines.slice(1), '');

  // Packets and bytes by action and reason.
  const reasonRows: string[][] = [['action', 'reason', 'packets', 'bytes']];
  for (const [action, reasons] of [[1, ACCEPT_REASONS], [0, DROP_REASONS]] as const) {
    for (const reason of reasons) {
      const k = action * REASON_SLOTS + code(reason);
      reasonRows.push([action ? 'accept' : 'drop', reason, grouped(run.packetsBy[k]!), grouped(run.bytesBy[k]!)]);
    }
  }
  reasonRows.push(['total', '', grouped(run.packets), grouped(run.bytes)]);
  const reasonLines = table(reasonRows, new Set([2, 3]));
  out.push('verdicts by reason:', reasonLines[0]!, '-'.repeat(reasonLines[0]!.length), ...reasonLines.slice(1), '');

  const f = stats.fragments;
  out.push(
    `connections: ${grouped(stats.tracked)} tracked at the end (capacity ${grouped(stats.capacity)}), ${grouped(stats.opened)} opened, ${grouped(stats.expired)} expired` +
      `${r.changes.length ? `, ${grouped(stats.removed)} removed at policy changes` : ''}`,
    `fragments:   ${grouped(f.recorded)} first-fragment verdicts recorded, ${grouped(f.expired)} expired, ${grouped(f.tracked)} held at the end (capacity ${grouped(f.capacity)})` +
      `${f.unrecorded ? `, ${grouped(f.unrecorded)} not recorded (table full)` : ''}`,
  );
  if (stats.latestTime !== null) out.push(`capture time: up to ${new Date(stats.latestTime * 1000).toISOString().replace('.000Z', 'Z')} (${stats.latestTime} s)`);
  for (const w of r.written) out.push(`written: ${w}`);

  // Hints: numbers that usually mean a mistake in the command.
  const tableFull = stats.dropped['table-full'];
  if (tableFull > 0) out.push(`note: ${count(tableFull, 'packet')} dropped because the connection table was full (${grouped(stats.capacity)} connections): raise --capacity`);
  if (run.packets > 0 && stats.dropped['not-local'] === run.packets) {
    out.push(`note: no packet was to or from the instance's addresses (${addressesText(r.addresses)}): give the right ones with --local or the instance's "addresses"`);
  }
  if (run.clampedTimes > 0) {
    out.push(`note: ${count(run.clampedTimes, 'packet')} (the first: packet ${grouped(run.firstClamped)}) had a timestamp past ±2^40 s, counted as that bound (state timeouts then saw time jump)`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return out;
}
