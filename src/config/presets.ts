/**
 * Protocols, rule presets and group templates (docs/SEMANTICS.md, "Rules" and "Security groups").
 *
 * Every table here is looked up with text a user wrote, so each is a Map: a plain
 * object would answer `constructor`, `__proto__` or `toString` from
 * Object.prototype, and a rule with `protocol: constructor` would compile to
 * whatever that lookup returned.
 */
import type { Interval, ProtocolMatch, RuleInput, TemplateName } from '../types.js';
import { PRESETS as PRESET_LIST, PROTOCOLS, TEMPLATES as TEMPLATE_LIST } from './fields.js';
import { parsePorts } from './ports.js';

export { PROTOCOL_SYNTAX, PRESET_SYNTAX, TEMPLATE_SYNTAX } from './fields.js';
export type { TemplateName } from '../types.js';

/** Protocol names (lower case) → IP protocol numbers (fields.ts PROTOCOLS). */
export const PROTOCOL_NAMES: ReadonlyMap<string, number> = new Map(PROTOCOLS.map((p) => [p.name.toLowerCase(), p.number]));
const PROTOCOL_LABELS: ReadonlyMap<number, string> = new Map(PROTOCOLS.map((p) => [p.number, p.name]));

export const TCP = 6;
export const UDP = 17;
export const ICMP = 1;
export const ICMPV6 = 58;

/** Parses a protocol name/number (case-insensitive); 'all' only when allowed. */
export function parseProtocol(input: unknown, allowAll: boolean): number | 'all' | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 && input <= 255 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const s = input.trim().toLowerCase();
  if (s === 'all') return allowAll ? 'all' : undefined;
  const named = PROTOCOL_NAMES.get(s);
  if (named !== undefined) return named;
  if (/^\d{1,3}$/.test(s)) {
    const n = Number(s);
    return n <= 255 ? n : undefined;
  }
  return undefined;
}

export function protocolLabel(p: ProtocolMatch): string {
  if (p === 'all') return 'ALL';
  if (p === 'ping') return 'ICMP/ICMPv6 (ping)';
  return PROTOCOL_LABELS.get(p) ?? String(p);
}

/** Only TCP and UDP carry ports in security-group rules. */
export const takesPorts = (p: ProtocolMatch): boolean => p === TCP || p === UDP;

export interface Preset {
  protocol: ProtocolMatch;
  ports: Interval[] | null;
}

/** What a preset of fields.ts PRESETS fixes, read with the rule readers themselves. */
function presetOf(p: (typeof PRESET_LIST)[number]): Preset | null {
  if (p.protocol === undefined) return null;
  const protocol = p.protocol === 'ping' ? 'ping' : parseProtocol(p.protocol, false);
  const ports = p.port === undefined ? { ok: true as const, value: null } : parsePorts(p.port);
  if (protocol === undefined || !ports.ok) throw new Error(`fields.ts: preset ${p.name} is not a valid rule`);
  return { protocol, ports: ports.value };
}

/** Canonical preset names → what they fix (`custom`: nothing, take protocol and port). */
export const PRESETS: ReadonlyMap<string, Preset | null> = new Map(PRESET_LIST.map((p) => [p.name, presetOf(p)]));

/** Console labels (lower case) accepted besides the canonical names. */
const PRESET_LABELS: ReadonlyMap<string, string> = new Map(PRESET_LIST.flatMap((p) => (p.label ? [[p.label.toLowerCase(), p.name] as const] : [])));

/** Canonical preset name, or undefined. */
export function presetName(input: string): string | undefined {
  const s = input.trim().toLowerCase().replace(/\s+/g, ' ');
  if (PRESETS.has(s)) return s;
  return PRESET_LABELS.get(s);
}


/**
 * Template rules, appended after a group's own rules (docs/SEMANTICS.md "Security groups"). Written like user
 * rules so they go through the same validation. Chosen to mirror the cloud console's
 * templates, which list IPv4 and IPv6 peers as separate rules.
 */
export const TEMPLATES: Readonly<Record<TemplateName, { inbound: RuleInput[]; outbound: RuleInput[] }>> = {
  'open-all': {
    inbound: [
      { protocol: 'ALL', source: '0.0.0.0/0', action: 'accept', description: 'open-all: all IPv4' },
      { protocol: 'ALL', source: '::/0', action: 'accept', description: 'open-all: all IPv6' },
    ],
    outbound: [
      { protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept', description: 'open-all: all IPv4' },
      { protocol: 'ALL', destination: '::/0', action: 'accept', description: 'open-all: all IPv6' },
    ],
  },
  'open-common': {
    inbound: [
      { protocol: 'TCP', port: '22,80,443,3389', source: 'any', action: 'accept', description: 'open-common: SSH, HTTP, HTTPS, RDP' },
      { protocol: 'ICMP', source: '0.0.0.0/0', action: 'accept', description: 'open-common: ICMP' },
      { protocol: 'ICMPv6', source: '::/0', action: 'accept', description: 'open-common: ICMPv6' },
    ],
    outbound: [
      { protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept', description: 'open-common: all IPv4' },
      { protocol: 'ALL', destination: '::/0', action: 'accept', description: 'open-common: all IPv6' },
    ],
  },
  custom: { inbound: [], outbound: [] },
};

/** Canonical template name, or undefined (compared by value, never looked up in TEMPLATES). */
export function templateName(input: string): TemplateName | undefined {
  const s = input.trim().toLowerCase();
  return TEMPLATE_LIST.find((t) => t.name === s)?.name;
}
