/**
 * The data shapes of the public API (docs/SEMANTICS.md "Flows", "Rules", "Security
 * groups", "Instances", "The verdict").
 *
 * Naming: a type ending in `Input` is what a user writes (a config, a rule, a flow),
 * read case-insensitively where docs/SEMANTICS.md says so; the literal unions accept
 * the common spellings of every word (see {@link CaseVariants}), so a typo such as
 * `'TPC'` or `'alow'` fails to type-check. The other types are what the library gives
 * back: {@link Config} is the validated config (parseConfig, engine.config),
 * {@link ParsedFlow} a validated flow (parseFlow), {@link Verdict} an answer.
 *
 * The field lists of the config inputs are declared once in src/config/fields.ts (the
 * validator and the JSON Schema read them there); the compiler checks that these
 * interfaces name the same fields and words.
 */

// ---------------------------------------------------------------- words

/** The direction of a flow or rule: `inbound` arrives at the instance, `outbound` leaves it. */
export type Direction = 'inbound' | 'outbound';

/** What a verdict or a validated rule does: `accept` lets the flow through, `drop` refuses it. */
export type Action = 'accept' | 'drop';

/** A lower-case word in title case: each part between spaces or hyphens capitalized (`"open-all"` → `"Open-All"`). */
export type TitleCase<S extends string> = S extends `${infer A} ${infer B}`
  ? `${Capitalize<A>} ${TitleCase<B>}`
  : S extends `${infer A}-${infer B}`
    ? `${Capitalize<A>}-${TitleCase<B>}`
    : Capitalize<S>;

/**
 * The spellings of a case-insensitive word that the types accept: as documented
 * (`ICMPv6`, `Linux login`), lower case (`icmpv6`), upper case (`ICMPV6`),
 * capitalized (`Icmpv6`, `Linux login`) and title case (`Linux Login`,
 * `Open-All`). The validator reads any case (and whitespace around a word); the
 * types take these so that a misspelt word fails to compile. For another spelling,
 * pass the config as text or through parseConfig (which takes `unknown`).
 */
export type CaseVariants<W extends string> = W | Lowercase<W> | Uppercase<W> | Capitalize<Lowercase<W>> | TitleCase<Lowercase<W>>;

/** `"inbound"` or `"outbound"` in any of its {@link CaseVariants} (flows and update() edits). */
export type DirectionInput = CaseVariants<Direction>;

/** An IP protocol by name. As numbers: TCP 6, UDP 17, ICMP 1, ICMPv6 58, GRE 47. */
export type ProtocolName = 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'GRE';

/**
 * A rule's protocol: a {@link ProtocolName} or `ALL` (every IP protocol) in any of
 * their {@link CaseVariants}, or an IP protocol number 0-255. (The validator also
 * reads a digit string such as `"6"`, as config files may write it.)
 */
export type ProtocolInput = CaseVariants<ProtocolName | 'ALL'> | number;

/**
 * Rule presets by canonical name: `linux-login` (TCP 22), `windows-login` (TCP
 * 3389), `ping` (ICMP for IPv4 peers, ICMPv6 for IPv6 peers), `http` (TCP 80),
 * `https` (TCP 443), `ftp` (TCP 20-21), `telnet` (TCP 23), `custom` (the rule's own
 * protocol and port).
 */
export type PresetName = 'linux-login' | 'windows-login' | 'ping' | 'http' | 'https' | 'ftp' | 'telnet' | 'custom';

/** The cloud console's labels of presets, accepted as well as their names. */
export type PresetLabel = 'Linux login' | 'Windows login' | 'HTTP (80)' | 'HTTPS (443)';

/** A rule's `type`: a {@link PresetName} or {@link PresetLabel}, in any of their {@link CaseVariants}. */
export type PresetInput = CaseVariants<PresetName | PresetLabel>;

/**
 * Group templates: rules added after a group's written rules (docs/SEMANTICS.md
 * "Security groups"). `open-all`: every protocol from and to `0.0.0.0/0` and `::/0`
 * accepted. `open-common`: TCP 22, 80, 443 and 3389 from `any`, ICMP from
 * `0.0.0.0/0`, ICMPv6 from `::/0` accepted inbound; everything accepted outbound.
 * `custom`: none (the default).
 */
export type TemplateName = 'open-all' | 'open-common' | 'custom';

/** A group's `template`: a {@link TemplateName} in any of its {@link CaseVariants}. */
export type TemplateInput = CaseVariants<TemplateName>;

/**
 * A rule's `action`: `accept` (or `allow`) lets a matching flow through, `drop` (or
 * `reject`, `deny`) refuses it; in any of their {@link CaseVariants} (`ACCEPT`,
 * `Allow`...).
 */
export type ActionInput = CaseVariants<'accept' | 'allow' | 'drop' | 'reject' | 'deny'>;

// ---------------------------------------------------------------- config input

/**
 * A rule as a config file or `update()` writes it (docs/SEMANTICS.md "Rules").
 * It needs an `action`, a peer (`source` on inbound rules, `destination` on outbound
 * ones, or `peer` on either), and a `protocol` or a preset `type`. A rule may also be
 * written as a Terraform lite string, see {@link RuleSpec}.
 *
 * @example
 * const ssh: RuleInput = { protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept' };
 * const web: RuleInput = { type: 'HTTP (80)', source: 'any', action: 'allow' };
 */
export interface RuleInput {
  /** A preset that fixes protocol and port (`http` = TCP 80); `custom` takes them from the rule. A port or protocol that disagrees with the preset is CONFLICTING_FIELDS. */
  type?: PresetInput;
  /** The IP protocol; `ALL` matches every protocol. Required unless `type` is given. */
  protocol?: ProtocolInput;
  /**
   * Destination ports, TCP and UDP only: a number 0-65535, or text: `"ALL"`, `"22"`,
   * a list `"80,443"`, a range `"3306-20000"` or `"20 to 21"`, or a list mixing them.
   * Absent: all ports (the rule then also matches flows without a port).
   */
  port?: number | string;
  /**
   * Inbound rules: where flows come from. An address, a CIDR (`10.0.0.0/8`), an
   * inclusive range `10.0.0.1-10.0.0.50`, `0.0.0.0/0` (all IPv4), `::/0` (all IPv6) or
   * `any` (both); or the id of an address set of the policy (its addresses), or of a
   * security group (a group reference: the addresses of every instance bound to it).
   */
  source?: string;
  /** Outbound rules: where flows go. Written as `source` is. */
  destination?: string;
  /** The peer in either direction, instead of `source` / `destination`. */
  peer?: string;
  /**
   * Instead of `protocol` / `port` (and `type`): the id of a service set of the policy;
   * the rule matches a flow of any of its services.
   */
  serviceSet?: string;
  /** Optional: the instance's own address must be in this peer (a flow without `local` does not match). */
  localCidr?: string;
  /** Optional: the opening packet's source port must be in these ports (written as `port`). */
  sourcePort?: number | string;
  /** Optional, ICMP / ICMPv6 / ping rules only: the ICMP type, 0-255. */
  icmpType?: number | `${number}`;
  /** Optional, with `icmpType`: the ICMP code, 0-255. */
  icmpCode?: number | `${number}`;
  /** What a matching flow gets. */
  action: ActionInput;
  /** Free text, kept for explanations. */
  description?: string;
}

/**
 * A Terraform lite rule string, `"ACTION#PEER#PORT#PROTOCOL"`, as
 * `tencentcloud_security_group_lite_rule` writes rules: `"ACCEPT#10.0.0.0/8#22#TCP"`,
 * `"DROP#0.0.0.0/0#ALL#ALL"`. The action and protocol are typed words; the peer and
 * port are read as a rule's `source`/`destination` and `port`.
 */
export type TerraformLiteRule = `${ActionInput}#${string}#${string}#${CaseVariants<ProtocolName | 'ALL'> | number}`;

/** A rule as a group's rule lists and `update()` take it: a {@link RuleInput} or a {@link TerraformLiteRule} string. */
export type RuleSpec = RuleInput | TerraformLiteRule;

/**
 * A security group as a config file writes it (docs/SEMANTICS.md "Security groups"):
 * an id, two ordered rule lists and an optional template whose rules come after the
 * written ones. Instead of `inbound` / `outbound`, a group may embed a Tencent Cloud
 * `SecurityGroupPolicySet`.
 */
export interface SecurityGroupInput {
  /** Unique, non-empty id (`"sg-web"`); verdicts name it in `groupId`. */
  id: string;
  /** A display name. */
  name?: string;
  /** Free text. */
  description?: string;
  /** Rules appended after the written ones (default `custom`: none). */
  template?: TemplateInput;
  /** Inbound rules, first match first: rule objects or Terraform lite strings. */
  inbound?: readonly RuleSpec[];
  /** Outbound rules, first match first. */
  outbound?: readonly RuleSpec[];
  /** A Tencent Cloud policy set instead of `inbound` / `outbound` (not both). */
  SecurityGroupPolicySet?: TencentPolicySet;
}

/**
 * A named set of addresses (docs/SEMANTICS.md "Address sets, service sets and group
 * references"; Tencent's parameter templates `ipm-…` and their groups `ipmg-…`): a
 * rule's peer may name it. Give `addresses`, or `sets` to make a set group (the union
 * of its member sets, which are not set groups themselves).
 */
export interface AddressSetInput {
  /** Unique among address sets and security groups; must not read as an address, a CIDR, a range or `any`. */
  id: string;
  /** A display name. */
  name?: string;
  /** Free text. */
  description?: string;
  /** The members: addresses, CIDRs, ranges a-b, `0.0.0.0/0`, `::/0` or `any`, as a rule's peer is written. */
  addresses?: readonly string[];
  /** A set group: the ids of its member sets (each an address set with `addresses`). */
  sets?: readonly string[];
}

/**
 * A named set of services (Tencent's `ppm-…` and their groups `ppmg-…`): a rule may
 * name it in `serviceSet` instead of `protocol` / `port`. Give `services`, or `sets`
 * to make a set group.
 */
export interface ServiceSetInput {
  /** Unique among service sets. */
  id: string;
  /** A display name. */
  name?: string;
  /** Free text. */
  description?: string;
  /** The members: `PROTOCOL` or `PROTOCOL:PORTS` (`tcp:80`, `udp:53,5353`, `tcp:8000-8010`, `icmp`, `ALL`), any case. */
  services?: readonly string[];
  /** A set group: the ids of its member sets (each a service set with `services`). */
  sets?: readonly string[];
}

/** An instance as a config file writes it: an id and the groups bound to it, highest priority first. */
export interface InstanceInput {
  /** Unique, non-empty id (`"ins-1"`); flows name it in `instance`. */
  id: string;
  /** Ids of groups of the config, each once, in priority order: the first is evaluated first. */
  securityGroups: readonly string[];
  /** A display name. */
  name?: string;
  /** Free text. */
  description?: string;
  /**
   * The instance's own addresses (addresses, CIDRs or ranges a-b, not `any`): what
   * makes a packet inbound or outbound for a tracker (docs/SEMANTICS.md, "State"), and
   * what a rule naming one of its groups as the peer (a group reference) matches.
   */
  addresses?: readonly string[];
}

/**
 * A config as a user writes it, in a JSON or YAML file or in code
 * (docs/SEMANTICS.md "Config files"). Files can name the JSON Schema of this shape
 * for their editor: `sgfilter/schema.json` (schema/sgfilter-config.schema.json).
 *
 * An object literal is checked against this type where a parameter expects it; a
 * config kept in a variable first needs the annotation (`const c: ConfigInput = …`
 * or `… satisfies ConfigInput`), or its words widen to `string`.
 *
 * @example
 * const config: ConfigInput = {
 *   securityGroups: [{ id: 'sg-ssh', inbound: [{ protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept' }] }],
 * };
 */
export interface ConfigInput {
  /** The JSON Schema of the file, for editors; ignored. */
  $schema?: string;
  /** The document's own version label; ignored. */
  version?: string | number;
  /** Free text about the document. */
  description?: string;
  /**
   * The security groups; ids are unique. (A document that is one of several making
   * one policy may give only instances or sets: see {@link ConfigPartInput}.)
   */
  securityGroups: readonly SecurityGroupInput[];
  /**
   * Instances and their groups in priority order. Absent or empty (in every document
   * of the policy): one implicit instance `default`, bound to every group in file order.
   */
  instances?: readonly InstanceInput[];
  /** Named address sets, for rule peers to name. */
  addressSets?: readonly AddressSetInput[];
  /** Named service sets, for rules to name in `serviceSet`. */
  serviceSets?: readonly ServiceSetInput[];
}

/**
 * One entry of a Tencent Cloud policy set's `Ingress` or `Egress`, as
 * DescribeSecurityGroupPolicies returns it. Loosely typed, as the API and its SDKs
 * type it (strings); the validator reads the words case-insensitively. Fields not
 * listed are ignored.
 */
export interface TencentPolicy {
  /** `TCP`, `UDP`, `ICMP`, `ICMPv6`, `GRE`, `ALL` or a number 0-255. */
  Protocol?: string | number;
  /** Ports as a rule's `port`; empty: ALL. */
  Port?: string | number;
  /** The IPv4 peer (one of CidrBlock and Ipv6CidrBlock). */
  CidrBlock?: string;
  /** The IPv6 peer. */
  Ipv6CidrBlock?: string;
  /** `ACCEPT` or `DROP` (any action word). */
  Action?: string;
  /** Free text. */
  PolicyDescription?: string;
  /** Position in the list, as Tencent numbers it: the list is evaluated in PolicyIndex order when it is given. */
  PolicyIndex?: number;
  /** A security group as the peer (a group reference): the addresses of every instance bound to it. */
  SecurityGroupId?: string;
  /** A parameter template of addresses (ipm-…) or a template group (ipmg-…) as the peer; defined by a DescribeAddressTemplates / DescribeAddressTemplateGroups output of the policy. */
  AddressTemplate?: {
    /** An address template's id. */
    AddressId?: string;
    /** An address template group's id. */
    AddressGroupId?: string;
  };
  /** A parameter template of services (ppm-…) or a template group (ppmg-…) instead of Protocol and Port. */
  ServiceTemplate?: {
    /** A service template's id. */
    ServiceId?: string;
    /** A service template group's id. */
    ServiceGroupId?: string;
  };
  /** Any other field the API returns (ModifyTime…): ignored. */
  [field: string]: unknown;
}

/** A Tencent Cloud `SecurityGroupPolicySet`: the policy version and the two ordered policy lists. */
export interface TencentPolicySet {
  /** The policy version Tencent reports. */
  Version?: string | number | null;
  /** Inbound policies, first match first. */
  Ingress?: readonly TencentPolicy[];
  /** Outbound policies, first match first. */
  Egress?: readonly TencentPolicy[];
  /** Any other field the API returns: ignored. */
  [field: string]: unknown;
}

/**
 * A Tencent Cloud DescribeSecurityGroupPolicies output as it is, taken as a config:
 * the whole `{ Response }`, its `{ SecurityGroupPolicySet }`, or the policy set
 * itself (which then needs `Ingress` or `Egress`). It becomes one group with id
 * `tencent`.
 */
export type TencentPolicyDocument =
  | {
    /** The API response. */
    Response: {
      /** The policy set. */
      SecurityGroupPolicySet: TencentPolicySet;
      [field: string]: unknown;
    };
  }
  | {
    /** The policy set. */
    SecurityGroupPolicySet: TencentPolicySet;
  }
  | (TencentPolicySet & (
    | {
      /** Inbound policies. */
      Ingress: readonly TencentPolicy[];
    }
    | {
      /** Outbound policies. */
      Egress: readonly TencentPolicy[];
    }));

/** A Tencent Cloud address template (`ipm-…`), as DescribeAddressTemplates returns it. */
export interface TencentAddressTemplate {
  /** The template's id, `ipm-…`. */
  AddressTemplateId: string;
  /** Its name. */
  AddressTemplateName?: string;
  /** Its addresses: addresses, CIDRs (a CIDR with host bits, as Tencent stores some, is read as its network, with a warning) or ranges a-b. */
  AddressSet?: readonly string[];
  /** The same addresses with descriptions (must agree with AddressSet when both are given). */
  AddressExtraSet?: readonly {
    /** An address, CIDR or range. */
    Address: string;
    /** Free text. */
    Description?: string;
  }[];
  /** Output only. */
  CreatedTime?: string;
  /** Output only. */
  UpdatedTime?: string;
  /** Output only. */
  TagSet?: readonly unknown[];
}

/** A Tencent Cloud address template group (`ipmg-…`), as DescribeAddressTemplateGroups returns it. */
export interface TencentAddressTemplateGroup {
  /** The group's id, `ipmg-…`. */
  AddressTemplateGroupId: string;
  /** Its name. */
  AddressTemplateGroupName?: string;
  /** Its member templates (`ipm-…`): what defines the group. */
  AddressTemplateIdSet: readonly string[];
  /** Member details as Tencent reports them (not read: the id set defines the group). */
  AddressTemplateSet?: readonly unknown[];
  /** Output only. */
  CreatedTime?: string;
  /** Output only. */
  UpdatedTime?: string;
  /** Output only. */
  TagSet?: readonly unknown[];
}

/** A Tencent Cloud service template (`ppm-…`), as DescribeServiceTemplates returns it. */
export interface TencentServiceTemplate {
  /** The template's id, `ppm-…`. */
  ServiceTemplateId: string;
  /** Its name. */
  ServiceTemplateName?: string;
  /** Its services, `protocol:ports` (`tcp:8080`, `udp:99`, `icmp`, `ALL`). */
  ServiceSet?: readonly string[];
  /** The same services with descriptions (must agree with ServiceSet when both are given). */
  ServiceExtraSet?: readonly {
    /** A service, `protocol:ports`. */
    Service: string;
    /** Free text. */
    Description?: string;
  }[];
  /** Output only. */
  CreatedTime?: string;
  /** Output only. */
  UpdatedTime?: string;
  /** Output only. */
  TagSet?: readonly unknown[];
}

/** A Tencent Cloud service template group (`ppmg-…`), as DescribeServiceTemplateGroups returns it. */
export interface TencentServiceTemplateGroup {
  /** The group's id, `ppmg-…`. */
  ServiceTemplateGroupId: string;
  /** Its name. */
  ServiceTemplateGroupName?: string;
  /** Its member templates (`ppm-…`): what defines the group. */
  ServiceTemplateIdSet: readonly string[];
  /** Member details as Tencent reports them (not read: the id set defines the group). */
  ServiceTemplateSet?: readonly unknown[];
  /** Output only. */
  CreatedTime?: string;
  /** Output only. */
  UpdatedTime?: string;
  /** Output only. */
  TagSet?: readonly unknown[];
}

/** The list one of the four Tencent template outputs holds, and the fields the API sends with it. */
export type TencentTemplateList = (
  | {
    /** DescribeAddressTemplates. */
    AddressTemplateSet: readonly TencentAddressTemplate[];
  }
  | {
    /** DescribeAddressTemplateGroups. */
    AddressTemplateGroupSet: readonly TencentAddressTemplateGroup[];
  }
  | {
    /** DescribeServiceTemplates. */
    ServiceTemplateSet: readonly TencentServiceTemplate[];
  }
  | {
    /** DescribeServiceTemplateGroups. */
    ServiceTemplateGroupSet: readonly TencentServiceTemplateGroup[];
  }
) & {
  /** How many the account has (the list may be one page of them). */
  TotalCount?: number;
  /** The API request's id. */
  RequestId?: string;
};

/**
 * The output of DescribeAddressTemplates, DescribeAddressTemplateGroups,
 * DescribeServiceTemplates or DescribeServiceTemplateGroups as it is (with or without
 * its `Response` wrapper): a document of a policy, defining the templates its
 * policies name (docs/SEMANTICS.md "Address sets, service sets and group references").
 */
export type TencentTemplateDocument = TencentTemplateList | {
  /** The API response. */
  Response: TencentTemplateList;
};

/** One IPv4 peer of an AWS permission. */
export interface AwsIpRange {
  /** The CIDR. */
  CidrIp: string;
  /** Free text. */
  Description?: string;
}

/** One IPv6 peer of an AWS permission. */
export interface AwsIpv6Range {
  /** The CIDR. */
  CidrIpv6: string;
  /** Free text. */
  Description?: string;
}

/** A security group as the peer of an AWS permission (a group reference). */
export interface AwsUserIdGroupPair {
  /** The referenced group: the addresses of every instance bound to it. */
  GroupId?: string;
  /** Its name (informational). */
  GroupName?: string;
  /** The account owning it (informational). */
  UserId?: string;
  /** Its VPC (informational). */
  VpcId?: string;
  /** A VPC peering the reference goes through (informational). */
  VpcPeeringConnectionId?: string;
  /** The peering's status (informational). */
  PeeringStatus?: string;
  /** Free text. */
  Description?: string;
}

/** One permission (IpPermissions or IpPermissionsEgress entry) of an AWS security group. */
export interface AwsIpPermission {
  /** `tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1` (every protocol). */
  IpProtocol: string;
  /** TCP/UDP: the first port; ICMP: the type (-1: any). */
  FromPort?: number;
  /** TCP/UDP: the last port; ICMP: the code (-1: any). */
  ToPort?: number;
  /** IPv4 peers. */
  IpRanges?: readonly AwsIpRange[];
  /** IPv6 peers. */
  Ipv6Ranges?: readonly AwsIpv6Range[];
  /** Security groups as peers. */
  UserIdGroupPairs?: readonly AwsUserIdGroupPair[];
  /** Prefix lists as peers: refused (sgfilter is not given their entries), naming the id. */
  PrefixListIds?: readonly {
    /** The prefix list's id (`pl-…`), named in the refusal. */
    PrefixListId?: string;
    /** Free text. */
    Description?: string;
  }[];
}

/** One AWS security group, as describe-security-groups returns it: allow-only, unordered. */
export interface AwsSecurityGroup {
  /** The group's id (`sg-…`): the security group's id in the policy. */
  GroupId: string;
  /** Its name. */
  GroupName?: string;
  /** Free text. */
  Description?: string;
  /** Inbound permissions. */
  IpPermissions?: readonly AwsIpPermission[];
  /** Outbound permissions. */
  IpPermissionsEgress?: readonly AwsIpPermission[];
  /** Informational. */
  OwnerId?: string;
  /** Informational. */
  VpcId?: string;
  /** Informational. */
  SecurityGroupArn?: string;
  /** Informational. */
  Tags?: readonly {
    /** The tag's key. */
    Key?: string;
    /** The tag's value. */
    Value?: string;
  }[];
}

/**
 * The output of `aws ec2 describe-security-groups` as it is: each group becomes a
 * security group of accept rules (AWS groups allow only, in no order; what no rule
 * allows is dropped), one rule per peer of each permission.
 */
export interface AwsSecurityGroupsDocument {
  /** The groups. */
  SecurityGroups: readonly AwsSecurityGroup[];
  /** A pagination token (informational). */
  NextToken?: string;
}

/** A native document that is one of several making one policy: any of a config's fields (at least one of securityGroups, instances, addressSets, serviceSets). */
export type ConfigPartInput = Partial<ConfigInput>;

/** Any one document of a policy: a native config (or part of one), or an imported format as its API returns it. */
export type PolicyDocument = ConfigInput | ConfigPartInput | TencentPolicyDocument | TencentTemplateDocument | AwsSecurityGroupsDocument;

// ---------------------------------------------------------------- the validated config

/** An inclusive range of addresses of one family, as numbers (IPv4: below 2^32; IPv6: below 2^128). */
export interface AddressRange {
  /** The first address of the range. */
  lo: bigint;
  /** The last address of the range (inclusive). */
  hi: bigint;
}

/** A set of addresses, split by family: disjoint ranges need not be merged or sorted. */
export interface AddressSet {
  /** IPv4 ranges (an IPv4-mapped IPv6 prefix is here, as IPv4). */
  v4: AddressRange[];
  /** IPv6 ranges. */
  v6: AddressRange[];
}

/** An inclusive interval of whole numbers (ports: 0-65535). */
export interface Interval {
  /** The first number. */
  lo: number;
  /** The last number (inclusive). */
  hi: number;
}

/** A validated rule's protocol: an IP protocol number 0-255, `all`, or `ping` (ICMP (1) for IPv4 peers, ICMPv6 (58) for IPv6 peers). */
export type ProtocolMatch = number | 'all' | 'ping';

/** One service of a service set: a protocol and, for TCP and UDP, ports. */
export interface Service {
  /** An IP protocol number 0-255, or `all`. ICMP (1) matches IPv4 peers only, ICMPv6 (58) IPv6 peers only, as in rules. */
  protocol: number | 'all';
  /** Destination ports; null = ALL (also matches flows without a port). */
  ports: Interval[] | null;
  /** The service as written (`tcp:80`). */
  text: string;
}

/** A validated address set (Config.addressSets). */
export interface NamedAddressSet {
  /** The set's id. */
  id: string;
  /** Its display name, when it has one. */
  name?: string;
  /** Its addresses (a set group: the union of its members'), sorted and merged. */
  addresses: AddressSet;
  /** A set group: the ids of its member sets. */
  sets?: string[];
}

/** A validated service set (Config.serviceSets). */
export interface NamedServiceSet {
  /** The set's id. */
  id: string;
  /** Its display name, when it has one. */
  name?: string;
  /** Its services (a set group: its members', in member order). */
  services: Service[];
  /** A set group: the ids of its member sets. */
  sets?: string[];
}

/** A validated rule (part of a {@link Config}): every field normalized, words resolved. */
export interface Rule {
  /** The group the rule belongs to. */
  groupId: string;
  /** The list the rule is in. */
  direction: Direction;
  /** Position in the group's list for this direction, 0-based (template rules follow the written ones). */
  ruleIndex: number;
  /** What a matching flow gets. */
  action: Action;
  /** The protocol the flow must have. */
  protocol: ProtocolMatch;
  /** Destination ports; null = ALL (also matches flows without a port). */
  ports: Interval[] | null;
  /** The peer addresses: the flow's remote address must be in them. */
  peer: AddressSet;
  /** The instance's own address (localCidr); null = any (also matches flows without a local address). */
  local: AddressSet | null;
  /** Source ports; null = any (also matches flows without one). */
  sourcePorts: Interval[] | null;
  /** ICMP type 0-255, or null for any. */
  icmpType: number | null;
  /** ICMP code 0-255, or null for any. */
  icmpCode: number | null;
  /** The description the rule was written with. */
  description?: string;
  /** Set on rules that come from the group's template: its name. */
  template?: string;
  /** The peer names an address set: its id (`peer` holds the set's addresses). */
  peerSet?: string;
  /**
   * The peer names a security group (a group reference): its id; `peer` holds the
   * addresses of every instance bound to that group.
   */
  peerGroup?: string;
  /** The rule names a service set: its id. */
  serviceSet?: string;
  /**
   * With `serviceSet`: the services; the rule matches a flow when any of them does
   * (and every other field matches). `protocol` is then `all` and `ports` null, which
   * say only that the rule is not limited to one protocol: read `services`.
   */
  services?: Service[];
  /** Tencent Cloud: the policy's PolicyIndex, when the input gave it (rules are evaluated in PolicyIndex order; ruleIndex is the position in that order). */
  policyIndex?: number;
  /** The rule as the user wrote its protocol, port and peer, for explanations and messages. */
  text: {
    /** The protocol or preset, as written. */
    protocol: string;
    /** The ports, as written (`ALL` when absent). */
    port: string;
    /** The peer, as written. */
    peer: string;
  };
}

/** A validated security group: its written rules followed by its template's, per direction. */
export interface SecurityGroup {
  /** The group's unique id. */
  id: string;
  /** Its display name, when it has one. */
  name?: string;
  /** The template, canonical (default `custom`). */
  template: TemplateName;
  /** Inbound rules in evaluation order (written, then template). */
  inbound: Rule[];
  /** Outbound rules in evaluation order (written, then template). */
  outbound: Rule[];
}

/** A validated instance: its id and its groups, highest priority first. */
export interface Instance {
  /** The instance's unique id. */
  id: string;
  /** Group ids in priority order. */
  securityGroups: string[];
  /** The instance's own addresses, when the config gives them (what makes a packet inbound or outbound for a tracker: docs/SEMANTICS.md, "State"). */
  addresses?: AddressSet;
}

/**
 * The validated config: what parseConfig and safeParseConfig return, what
 * `engine.config` holds and what compilePolicy and referenceClassify read. Rules are
 * normalized (protocol numbers, port intervals, address ranges) and template rules
 * appended. APIs that take a config accept a Config as it is, after a field-by-field
 * check of its shape.
 */
export interface Config {
  /** The groups, in file order. */
  securityGroups: SecurityGroup[];
  /** The instances; the first is the default for flows without `instance`. */
  instances: Instance[];
  /** True when no `instances` were given: one implicit instance `default`, bound to every group. */
  implicitInstance: boolean;
  /** Things that are valid but probably not meant (a rule that can never match). */
  warnings: Warning[];
  /**
   * How the rules read, when not as security groups. Absent for every config made from a
   * document or by update() of one. `'classbench'` (set by parseClassBench only): the rules
   * are ClassBench filters, whose protocol is the header's protocol number matched as
   * value/mask and nothing more, so protocol 1 (ICMP) and 58 (ICMPv6) are not paired with
   * an address family (a `0x3a/0xFF` filter matches an IPv4 header with protocol 58);
   * security groups pair them (docs/SEMANTICS.md "Rules"). Kept by update() and snapshots.
   */
  semantics?: 'classbench';
  /** Named address sets (absent: none). Rules that name one carry its addresses in `peer`. */
  addressSets?: NamedAddressSet[];
  /** Named service sets (absent: none). Rules that name one carry its services. */
  serviceSets?: NamedServiceSet[];
}

/** Something valid but probably not meant, found while validating (`sgfilter check` prints them). */
export interface Warning {
  /** Where, as keys from the document root: `["securityGroups", 0, "inbound", 2]`. */
  path: (string | number)[];
  /** A readable sentence saying where and what. */
  message: string;
  /** When several documents make one policy: the document the path is in (its file name, or `documents[i]`). */
  file?: string;
}

// ---------------------------------------------------------------- flows and verdicts

/**
 * A flow as a user passes it to classify, createFlowBatch or parseFlow
 * (docs/SEMANTICS.md "Flows"): the first packet of a connection, seen from the
 * instance. Addresses are text, read as Node's `net` reads them: an IPv4-mapped IPv6
 * address is IPv4, every other IPv6 address is IPv6; zone ids and spaces are
 * refused. Optional fields may be null (as JSON writes "none"). Fields of other
 * names are ignored, except names one or two letters from a flow field (a typo).
 *
 * @example
 * const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '203.0.113.9' };
 */
export interface FlowInput {
  /** `inbound` (arriving at the instance) or `outbound` (leaving it). */
  direction: DirectionInput;
  /** The flow's one IP protocol: a {@link ProtocolName} or a number 0-255 (not ALL). */
  protocol: CaseVariants<ProtocolName> | number;
  /** The peer's address: the packet's source for inbound flows, its destination for outbound ones. */
  remote: string;
  /** The destination port, 0-65535: the instance's for inbound flows, the peer's for outbound. Required for TCP and UDP. */
  port?: number | `${number}` | null;
  /** The instance's own address (matched by `localCidr` rules). */
  local?: string | null;
  /** The opening packet's source port, 0-65535 (matched by `sourcePort` rules). */
  sourcePort?: number | `${number}` | null;
  /** ICMP and ICMPv6 flows only: the type, 0-255. */
  icmpType?: number | `${number}` | null;
  /** ICMP and ICMPv6 flows only: the code, 0-255. */
  icmpCode?: number | `${number}` | null;
  /** The instance whose policy applies; default: the config's first instance. An unknown id is UNKNOWN_INSTANCE. */
  instance?: string | null;
}

/**
 * An address of a {@link ParsedFlow}: its family and its bits in four 32-bit words,
 * most significant first. IPv4: `words[0]` is the address, words 1-3 are 0. IPv6:
 * all four. An IPv4-mapped address (`::ffff:a.b.c.d`) is always IPv4 here.
 */
export interface FlowAddress {
  /** True for IPv6. */
  readonly v6: boolean;
  /** The address's bits, most significant word first. */
  readonly words: readonly [number, number, number, number];
}

/**
 * A validated flow, as parseFlow returns it: frozen, every field normalized.
 * Classifying it again skips validation, but only because the library made it (it
 * is marked where nothing else can mark it): an object of the same shape made
 * elsewhere, or a copy that went through JSON or a worker thread, is validated again
 * like any {@link FlowInput}.
 */
export interface ParsedFlow {
  /** The flow's direction. */
  readonly direction: Direction;
  /** IP protocol number 0-255. */
  readonly protocol: number;
  /** The peer's address. */
  readonly remote: FlowAddress;
  /** 0-65535, or null when the flow has none. */
  readonly port: number | null;
  /** The instance's own address, or null. */
  readonly local: FlowAddress | null;
  /** 0-65535, or null. */
  readonly sourcePort: number | null;
  /** 0-255, ICMP and ICMPv6 flows only; else null. */
  readonly icmpType: number | null;
  /** 0-255, ICMP and ICMPv6 flows only; else null. */
  readonly icmpCode: number | null;
  /** Instance id, or null for the policy's default instance. */
  readonly instance: string | null;
}

/**
 * What the engine decides for a flow, and which rule decided it
 * (docs/SEMANTICS.md "The verdict"). The default drop, when no rule matches, is
 * `{ action: 'drop', groupId: null, ruleIndex: null }`. Verdicts are frozen and
 * shared: every answer of one rule (of one published policy) is the same object, so
 * classifying allocates nothing per flow; copy one (`{ ...verdict }`) to change it.
 */
export interface Verdict {
  /** `accept` or `drop`. */
  readonly action: Action;
  /** The deciding rule's group, or null for the default drop. */
  readonly groupId: string | null;
  /** The deciding rule's 0-based position in that group's list for the flow's direction, or null for the default drop. */
  readonly ruleIndex: number | null;
}
