/** Public and internal data shapes. SPEC §1 (flows), §2 (rules), §3 (groups, verdicts). */

export type Direction = 'inbound' | 'outbound';
export type Action = 'accept' | 'drop';

// ---------- Input (what users write; validated by src/config/parse.ts) ----------

/** A rule as written in a config file (SPEC §2). Strings are case-insensitive where SPEC says so. */
export interface RuleInput {
  type?: string;
  protocol?: string | number;
  port?: string | number;
  source?: string;
  destination?: string;
  peer?: string;
  localCidr?: string;
  sourcePort?: string | number;
  icmpType?: number | string;
  icmpCode?: number | string;
  action?: string;
  description?: string;
}

export interface SecurityGroupInput {
  id: string;
  name?: string;
  template?: string;
  /** Rule objects, or Terraform lite strings "ACTION#PEER#PORT#PROTOCOL". */
  inbound?: (RuleInput | string)[];
  outbound?: (RuleInput | string)[];
}

export interface InstanceInput {
  id: string;
  securityGroups: string[];
  /** The instance's own addresses (addresses, CIDRs or ranges): what makes a packet inbound or outbound (SPEC §7). */
  addresses?: string[];
}

export interface ConfigInput {
  securityGroups: SecurityGroupInput[];
  instances?: InstanceInput[];
}

// ---------- Normalized (validated) config ----------

/** Inclusive range of addresses of one family. IPv4 values are < 2^32. */
export interface AddressRange {
  lo: bigint;
  hi: bigint;
}

/** A set of addresses, split by family. */
export interface AddressSet {
  v4: AddressRange[];
  v6: AddressRange[];
}

/** Inclusive integer interval. */
export interface Interval {
  lo: number;
  hi: number;
}

/** `ping` = ICMP (1) for IPv4 peers, ICMPv6 (58) for IPv6 peers. */
export type ProtocolMatch = number | 'all' | 'ping';

export interface Rule {
  groupId: string;
  direction: Direction;
  /** Position in the group's list for this direction (template rules follow the written ones). */
  ruleIndex: number;
  action: Action;
  protocol: ProtocolMatch;
  /** null = ALL (also matches flows without a port). */
  ports: Interval[] | null;
  peer: AddressSet;
  /** null = any (also matches flows without a local address). */
  local: AddressSet | null;
  sourcePorts: Interval[] | null;
  icmpType: number | null;
  icmpCode: number | null;
  description?: string;
  /** Set on rules that come from a group template. */
  template?: string;
  /** The rule as the user wrote its peer / port / protocol, for explanations. */
  text: { protocol: string; port: string; peer: string };
}

export interface SecurityGroup {
  id: string;
  name?: string;
  template: 'open-all' | 'open-common' | 'custom';
  inbound: Rule[];
  outbound: Rule[];
}

export interface Instance {
  id: string;
  securityGroups: string[];
  /** The instance's own addresses, when the config gives them (SPEC §7 direction, §9 group references). */
  addresses?: AddressSet;
}

export interface Config {
  securityGroups: SecurityGroup[];
  instances: Instance[];
  /** True when no `instances` were given: one implicit instance `default`. */
  implicitInstance: boolean;
  warnings: Warning[];
}

export interface Warning {
  path: (string | number)[];
  message: string;
}

// ---------- Flows and verdicts ----------

/** A flow as users pass it (SPEC §1). */
export interface FlowInput {
  direction: Direction | string;
  protocol: string | number;
  remote: string;
  port?: number | string;
  local?: string;
  sourcePort?: number | string;
  icmpType?: number | string;
  icmpCode?: number | string;
  instance?: string;
}

/** A validated flow. Addresses are numbers in bigint; v4-mapped IPv6 is already IPv4. */
export interface Flow {
  direction: Direction;
  protocol: number;
  remote: { v6: boolean; addr: bigint };
  port: number | null;
  local: { v6: boolean; addr: bigint } | null;
  sourcePort: number | null;
  icmpType: number | null;
  icmpCode: number | null;
  instance: string | null;
}

export interface Verdict {
  action: Action;
  groupId: string | null;
  ruleIndex: number | null;
}
