/** Public and internal data shapes. docs/SEMANTICS.md ("Flows", "Rules", "Security groups", "The verdict"). */

export type Direction = 'inbound' | 'outbound';
export type Action = 'accept' | 'drop';

// ---------- Input (what users write; validated by src/config/parse.ts) ----------

/** A rule as written in a config file (docs/SEMANTICS.md "Rules"). Strings are case-insensitive where docs/SEMANTICS.md says so. */
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

/**
 * A Tencent Cloud DescribeSecurityGroupPolicies output as it is: the whole
 * `{ Response }`, its `{ SecurityGroupPolicySet }`, or the policy set itself
 * (`{ Version, Ingress, Egress }`); it becomes one group with id `tencent`.
 */
export type TencentPolicyDocument =
  | { Response: { SecurityGroupPolicySet: object } & Record<string, unknown> }
  | { SecurityGroupPolicySet: object }
  | { Version?: string | number; Ingress?: unknown[]; Egress?: unknown[] };

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

/**
 * A flow as users pass it (docs/SEMANTICS.md "Addresses"). `remote` and `local` are address text, read as
 * Node's `net` reads it: an IPv4-mapped IPv6 address is IPv4, every other IPv6
 * address IPv6; zone ids and spaces are refused. (Where a Flow is accepted, a copy of
 * one that went through JSON or a worker thread is read back too: its addresses are
 * FlowAddress objects, validated like text.)
 */
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

/**
 * An address of a parsed flow: its family and its bits in four 32-bit words, most
 * significant first. IPv4: `words[0]` is the address, words 1-3 are 0. IPv6: all
 * four. An IPv4-mapped address (::ffff:a.b.c.d) is always IPv4 here (docs/SEMANTICS.md "Addresses").
 */
export interface FlowAddress {
  readonly v6: boolean;
  readonly words: readonly [number, number, number, number];
}

/**
 * A validated flow, from parseFlow. Frozen, and known to the library by a mark only
 * it can set: an object of the same shape made elsewhere is validated again like any
 * FlowInput, never trusted.
 */
export interface Flow {
  readonly direction: Direction;
  /** IP protocol number 0-255. */
  readonly protocol: number;
  readonly remote: FlowAddress;
  /** 0-65535, or null when the flow has none. */
  readonly port: number | null;
  readonly local: FlowAddress | null;
  readonly sourcePort: number | null;
  /** 0-255 each, ICMP and ICMPv6 flows only. */
  readonly icmpType: number | null;
  readonly icmpCode: number | null;
  /** Instance id, or null for the policy's default instance. */
  readonly instance: string | null;
}

export interface Verdict {
  action: Action;
  groupId: string | null;
  ruleIndex: number | null;
}
