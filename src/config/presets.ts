/**
 * Protocols, rule presets and group templates (docs/SEMANTICS.md, "Rules" and "Security groups").
 *
 * Every table here is looked up with text a user wrote, so each is a Map: a plain
 * object would answer `constructor`, `__proto__` or `toString` from
 * Object.prototype, and a rule with `protocol: constructor` would compile to
 * whatever that lookup returned.
 */
import type { Interval, ProtocolMatch, RuleInput } from '../types.js';

/** Protocol names (lower case) → IP protocol numbers. */
export const PROTOCOL_NAMES: ReadonlyMap<string, number> = new Map([['tcp', 6], ['udp', 17], ['icmp', 1], ['icmpv6', 58], ['gre', 47]]);
const PROTOCOL_LABELS: ReadonlyMap<number, string> = new Map([[6, 'TCP'], [17, 'UDP'], [1, 'ICMP'], [58, 'ICMPv6'], [47, 'GRE']]);
export const PROTOCOL_SYNTAX = 'TCP, UDP, ICMP, ICMPv6, GRE, ALL, or an IP protocol number 0-255';

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

const one = (p: number): Interval[] => [{ lo: p, hi: p }];
/** Canonical preset names → what they fix (`custom`: nothing, take protocol and port). */
export const PRESETS: ReadonlyMap<string, Preset | null> = new Map<string, Preset | null>([
  ['linux-login', { protocol: TCP, ports: one(22) }],
  ['windows-login', { protocol: TCP, ports: one(3389) }],
  ['ping', { protocol: 'ping', ports: null }],
  ['http', { protocol: TCP, ports: one(80) }],
  ['https', { protocol: TCP, ports: one(443) }],
  ['ftp', { protocol: TCP, ports: [{ lo: 20, hi: 21 }] }],
  ['telnet', { protocol: TCP, ports: one(23) }],
  ['custom', null],
]);

/** Console labels accepted besides the canonical names. */
const PRESET_LABELS: ReadonlyMap<string, string> = new Map([
  ['linux login', 'linux-login'],
  ['windows login', 'windows-login'],
  ['http (80)', 'http'],
  ['https (443)', 'https'],
]);

export const PRESET_SYNTAX =
  'linux-login ("Linux login"), windows-login ("Windows login"), ping, http ("HTTP (80)"), https ("HTTPS (443)"), ftp, telnet, custom';

/** Canonical preset name, or undefined. */
export function presetName(input: string): string | undefined {
  const s = input.trim().toLowerCase().replace(/\s+/g, ' ');
  if (PRESETS.has(s)) return s;
  return PRESET_LABELS.get(s);
}

export type TemplateName = 'open-all' | 'open-common' | 'custom';
export const TEMPLATE_SYNTAX = 'open-all, open-common, custom';

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
  return s === 'open-all' || s === 'open-common' || s === 'custom' ? s : undefined;
}
