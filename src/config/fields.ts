/**
 * The config file's shape, declared once (docs/SEMANTICS.md, "Rules" to "Config files").
 *
 * Three readers, one source:
 * - the validator (parse.ts, rule.ts, presets.ts, ports.ts, tencent.ts) takes from here
 *   the field names it accepts, the words it knows (protocols, presets and their
 *   console labels, templates, actions) and the port syntax;
 * - json-schema.ts writes the JSON Schema that editors use
 *   (schema/sgfilter-config.schema.json, `npm run schema`) from the same declarations,
 *   with these descriptions;
 * - the input types in src/types.ts are checked against these lists by the compiler
 *   (the assertions at the end of this file).
 *
 * The validator keeps its own messages and everything a schema cannot say (a preset
 * and a port that disagree, host bits in a CIDR, a group an instance names that does
 * not exist). What a schema can say (field names, types, words, the port syntax, which
 * fields go together) is declared here and nowhere else.
 *
 * Adding a field (issue 13 will add `addressSets`, `serviceSets`):
 * add it to its object in SHAPES with a description (and a definition of its own shape
 * if it is new); the validator then accepts the name (its checks of the value are code
 * beside the others), the schema describes and checks it, and the compiler asks for
 * it in the matching input type of src/types.ts.
 *
 * No `node:` imports: the validator runs in edge workers.
 */
import type {
  ActionInput, AddressSetInput, AwsIpPermission, AwsSecurityGroup, AwsUserIdGroupPair, ConfigInput, InstanceInput, PresetLabel, PresetName, ProtocolName, RuleInput,
  SecurityGroupInput, ServiceSetInput, TemplateName, TencentAddressTemplate, TencentAddressTemplateGroup, TencentServiceTemplate, TencentServiceTemplateGroup,
} from '../types.js';

// ---------------------------------------------------------------- words

/** Named IP protocols (any case in configs and flows; numbers 0-255 besides). */
export const PROTOCOLS = [
  { name: 'TCP', number: 6 },
  { name: 'UDP', number: 17 },
  { name: 'ICMP', number: 1 },
  { name: 'ICMPv6', number: 58 },
  { name: 'GRE', number: 47 },
] as const;

/** The rule protocol that matches every IP protocol (rules only: a flow has one protocol). */
export const ALL = 'ALL';

/**
 * Rule presets: canonical name, the console's label (also accepted), and what the
 * preset fixes, written as a rule would write it (`ping`: ICMP for IPv4 peers, ICMPv6
 * for IPv6 peers; `custom`: nothing, the rule gives protocol and port).
 */
export const PRESETS = [
  { name: 'linux-login', label: 'Linux login', protocol: 'TCP', port: '22' },
  { name: 'windows-login', label: 'Windows login', protocol: 'TCP', port: '3389' },
  { name: 'ping', label: undefined, protocol: 'ping', port: undefined },
  { name: 'http', label: 'HTTP (80)', protocol: 'TCP', port: '80' },
  { name: 'https', label: 'HTTPS (443)', protocol: 'TCP', port: '443' },
  { name: 'ftp', label: undefined, protocol: 'TCP', port: '20-21' },
  { name: 'telnet', label: undefined, protocol: 'TCP', port: '23' },
  { name: 'custom', label: undefined, protocol: undefined, port: undefined },
] as const;

/** Group templates (their rules: presets.ts TEMPLATES). */
export const TEMPLATES = [
  { name: 'open-all', meaning: 'every protocol from and to 0.0.0.0/0 and ::/0, accepted' },
  { name: 'open-common', meaning: 'TCP 22, 80, 443, 3389 from any, ICMP from 0.0.0.0/0 and ICMPv6 from ::/0 accepted inbound; everything accepted outbound' },
  { name: 'custom', meaning: 'no template rules (the default)' },
] as const;

/** Action words (any case) and the action each means. */
export const ACTION_WORDS = [
  ['accept', 'accept'],
  ['allow', 'accept'],
  ['drop', 'drop'],
  ['reject', 'drop'],
  ['deny', 'drop'],
] as const;

// ---------------------------------------------------------------- syntax

/** Between the two ends of a port range: "3306-20000", "20 to 21". */
export const PORT_RANGE_SEPARATOR = String.raw`\s*(?:-|\s[tT][oO]\s)\s*`;
/** A decimal 0-255 (leading zeros allowed, at most three digits), for schema patterns. */
export const DECIMAL_BYTE = String.raw`(?:[01]?\d?\d|2[0-4]\d|25[0-5])`;
/** A decimal 0-65535 (any number of leading zeros), for schema patterns. */
export const DECIMAL_PORT = String.raw`0*(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}|0)`;
/** Terraform lite rules: "ACTION#PEER#PORT#PROTOCOL", each part trimmed. */
export const TERRAFORM_SEPARATOR = '#';

export const PROTOCOL_SYNTAX = `${PROTOCOLS.map((p) => p.name).join(', ')}, ${ALL}, or an IP protocol number 0-255`;
export const PRESET_SYNTAX = PRESETS.map((p) => (p.label ? `${p.name} ("${p.label}")` : p.name)).join(', ');
export const TEMPLATE_SYNTAX = TEMPLATES.map((t) => t.name).join(', ');
export const ACTION_SYNTAX = (['accept', 'drop'] as const)
  .map((a) => {
    const others = ACTION_WORDS.filter(([w, to]) => to === a && w !== a).map(([w]) => w);
    return others.length ? `${a} (or ${others.join(', ')})` : a;
  })
  .join(' / ') + ', case-insensitive';
export const PORT_SYNTAX = 'ALL, a port 0-65535 (22), a list (80,443), a range (3306-20000 or "20 to 21"), or a list mixing them';
export const SERVICE_SYNTAX = 'PROTOCOL or PROTOCOL:PORTS, e.g. tcp:80, udp:53,5353, tcp:8000-8010, icmp, ALL';
export const TERRAFORM_SYNTAX = 'ACTION#PEER#PORT#PROTOCOL, e.g. ACCEPT#192.168.1.0/24#80#TCP';
export const ADDRESS_SYNTAX = 'an address, a CIDR, a range a-b, 0.0.0.0/0, ::/0 or any';
export const PEER_SYNTAX = `${ADDRESS_SYNTAX}; or the id of an address set or of a security group (a group reference)`;

// ---------------------------------------------------------------- shapes

/**
 * A regular expression, matched against the whole string: regex source text, and
 * words read as the validator reads them (any case; with collapseSpaces, a run of
 * whitespace for each space).
 */
export type Pattern = readonly (string | { words: readonly string[]; collapseSpaces?: boolean })[];

/** The definitions of SHAPES (the schema's `definitions`). */
export type ShapeName =
  | 'config' | 'nativeConfig' | 'securityGroup' | 'instance' | 'inboundRule' | 'outboundRule' | 'terraformRule'
  | 'protocol' | 'preset' | 'template' | 'action' | 'ports'
  | 'tencentPolicy' | 'tencentPolicySet' | 'tencentPolicySetBare' | 'tencentResponse' | 'tencentPolicySetDocument'
  | 'addressSet' | 'serviceSet'
  | 'tencentAddressTemplate' | 'tencentAddressTemplateGroup' | 'tencentServiceTemplate' | 'tencentServiceTemplateGroup'
  | 'tencentTemplateList' | 'tencentTemplateResponse'
  | 'awsDocument' | 'awsSecurityGroup' | 'awsPermission' | 'awsIpRange' | 'awsIpv6Range' | 'awsUserIdGroupPair' | 'awsPrefixListId';

/** What one value may be. Descriptions become the schema's (and so the editor's) hover text. */
export type Shape =
  | { kind: 'string'; description?: string; pattern?: Pattern; examples?: readonly string[] }
  /** A word read case-insensitively, whitespace around it ignored (with collapseSpaces, a run of whitespace inside it reads as one space). */
  | { kind: 'words'; description?: string; words: readonly string[]; collapseSpaces?: boolean }
  | { kind: 'integer'; description?: string; min?: number; max?: number }
  | { kind: 'number'; description?: string }
  | { kind: 'null'; description?: string }
  | { kind: 'anyOf'; description?: string; of: readonly Shape[] }
  | { kind: 'list'; description?: string; of: Shape; unique?: boolean }
  | ObjectShape
  /** A definition of SHAPES, by name. */
  | { kind: 'ref'; description?: string; name: ShapeName }
  /** Anything: the validator does not look at it. */
  | { kind: 'any'; description?: string };

/** An object: its fields, and which of them go together. */
export interface ObjectShape {
  kind: 'object';
  title?: string;
  description?: string;
  fields: Readonly<Record<string, Field>>;
  /** Fields not listed are allowed (imported formats, read loosely); otherwise they are UNKNOWN_FIELD. */
  open?: boolean;
  /** Each entry: at least one of these fields is given. */
  someOf?: readonly (readonly string[])[];
  /** Each entry: exactly one of these fields is given. */
  oneOf?: readonly (readonly string[])[];
  /** Each entry: these fields are not all given together. */
  notTogether?: readonly (readonly string[])[];
  /** field → the fields it needs. */
  needs?: Readonly<Record<string, readonly string[]>>;
  /** Fields that must be absent (how this shape is told apart from another). */
  absent?: readonly string[];
}

export interface Field {
  shape: Shape;
  description: string;
  required?: boolean;
}

const ref = (name: ShapeName): Shape => ({ kind: 'ref', name });
/** The empty string (Tencent writes "" for a field it does not use). */
const EMPTY: Shape = { kind: 'string', pattern: [''] };
const text = (description?: string): Shape => (description === undefined ? { kind: 'string' } : { kind: 'string', description });
/** A string that is not only whitespace (ids, peers). */
const NOT_BLANK: Pattern = [String.raw`[\s\S]*\S[\s\S]*`];
const nonBlank = (description: string): Shape => ({ kind: 'string', description, pattern: NOT_BLANK });
/** 0-255, as a number or a digit string (ICMP type and code, protocol numbers). */
const BYTE_STRING: Shape = { kind: 'string', pattern: [String.raw`\s*${DECIMAL_BYTE}\s*`] };
const byte: Shape = { kind: 'anyOf', of: [{ kind: 'integer', min: 0, max: 255 }, BYTE_STRING] };

const PROTOCOL_WORDS = [...PROTOCOLS.map((p) => p.name), ALL];
const ACTION_LIST = ACTION_WORDS.map(([w]) => w);
/** One entry of a port list: a port, or a range of two. */
const PORT_ITEM = `${DECIMAL_PORT}(?:${PORT_RANGE_SEPARATOR}${DECIMAL_PORT})?`;
/** A port list as text (parsePorts): ALL, or entries separated by commas, whitespace around anything. */
const PORTS_TEXT: Pattern = [String.raw`\s*(?:`, { words: [ALL] }, String.raw`|${PORT_ITEM}(?:\s*,\s*${PORT_ITEM})*)\s*`];

const RULE_HEAD = {
  type: { shape: ref('preset'), description: `A preset that fixes protocol and port: ${PRESET_SYNTAX}; any case. "custom" takes protocol and port from the rule.` },
  protocol: { shape: ref('protocol'), description: `${PROTOCOL_SYNTAX}. Names in any case.` },
  port: { shape: ref('ports'), description: `Destination ports (TCP and UDP only): ${PORT_SYNTAX}. Absent: ALL.` },
  serviceSet: { shape: nonBlank('The id of a service set of the policy.'), description: 'Instead of type, protocol and port: the id of a service set (serviceSets, or a Tencent service template ppm-… / group ppmg-…); the rule matches a flow of any of its services.' },
} as const satisfies Record<string, Field>;
const RULE_TAIL = {
  peer: { shape: nonBlank(PEER_SYNTAX), description: `The peer, in either direction (instead of source / destination): ${PEER_SYNTAX}.` },
  localCidr: { shape: nonBlank(ADDRESS_SYNTAX), description: "Optional: the instance's own address must be in it (a flow without a local address does not match)." },
  sourcePort: { shape: ref('ports'), description: `Optional: the opening packet's source port must be in it: ${PORT_SYNTAX}.` },
  icmpType: { shape: byte, description: 'Optional, ICMP / ICMPv6 / ping rules only: the ICMP type, 0-255.' },
  icmpCode: { shape: byte, description: 'Optional, with icmpType: the ICMP code, 0-255.' },
  action: { shape: ref('action'), required: true, description: `What a matching flow gets: ${ACTION_SYNTAX}.` },
  description: { shape: text(), description: 'Free text, shown in explanations.' },
} as const satisfies Record<string, Field>;
const RULE_RULES = {
  someOf: [['type', 'protocol', 'serviceSet']],
  notTogether: [['serviceSet', 'type'], ['serviceSet', 'protocol'], ['serviceSet', 'port'], ['serviceSet', 'icmpType']],
  needs: { icmpCode: ['icmpType'] },
} as const;

/** Fields Tencent's template outputs carry that say nothing about what a template matches. */
const TENCENT_OUTPUT_ONLY = {
  CreatedTime: { shape: text(), description: 'Output only: when the template was made.' },
  UpdatedTime: { shape: text(), description: 'Output only: when the template last changed.' },
  TagSet: { shape: { kind: 'list', of: { kind: 'any' } }, description: 'Output only: tags.' },
} as const satisfies Record<string, Field>;
const TENCENT_LIST_FIELDS = {
  AddressTemplateSet: { shape: { kind: 'list', of: ref('tencentAddressTemplate') }, description: 'DescribeAddressTemplates: address templates (ipm-…).' },
  AddressTemplateGroupSet: { shape: { kind: 'list', of: ref('tencentAddressTemplateGroup') }, description: 'DescribeAddressTemplateGroups: address template groups (ipmg-…).' },
  ServiceTemplateSet: { shape: { kind: 'list', of: ref('tencentServiceTemplate') }, description: 'DescribeServiceTemplates: service templates (ppm-…).' },
  ServiceTemplateGroupSet: { shape: { kind: 'list', of: ref('tencentServiceTemplateGroup') }, description: 'DescribeServiceTemplateGroups: service template groups (ppmg-…).' },
  TotalCount: { shape: { kind: 'integer', min: 0 }, description: 'How many the account has (the list may be one page).' },
  RequestId: { shape: text(), description: 'The API request id.' },
} as const satisfies Record<string, Field>;
const TEMPLATE_LISTS = ['AddressTemplateSet', 'AddressTemplateGroupSet', 'ServiceTemplateSet', 'ServiceTemplateGroupSet'] as const;
/** What AWS writes as free text beside a peer. */
const AWS_DESCRIPTION = { Description: { shape: text(), description: 'Free text, kept as the rule\'s description.' } } as const satisfies Record<string, Field>;

const TENCENT_SET_FIELDS = {
  Version: { shape: { kind: 'anyOf', of: [{ kind: 'string' }, { kind: 'number' }, { kind: 'null' }] }, description: 'The policy version Tencent reports.' },
  Ingress: { shape: { kind: 'list', of: ref('tencentPolicy') }, description: 'Inbound policies, first match first.' },
  Egress: { shape: { kind: 'list', of: ref('tencentPolicy') }, description: 'Outbound policies, first match first.' },
} as const satisfies Record<string, Field>;

/**
 * Every shape of a config, by name. `config` is the root: a native config or one of
 * the Tencent documents. The validator reads the field lists of `nativeConfig`,
 * `securityGroup`, `instance`, `inboundRule` and `outboundRule`, and the word lists
 * above.
 */
export const SHAPES = {
  config: {
    kind: 'anyOf',
    description: 'An sgfilter config (docs/SEMANTICS.md "Config files"): native, or a Tencent Cloud DescribeSecurityGroupPolicies output as it is.',
    of: [
      ref('nativeConfig'), ref('tencentResponse'), ref('tencentPolicySetDocument'), ref('tencentPolicySetBare'),
      ref('tencentTemplateResponse'), ref('tencentTemplateList'), ref('awsDocument'),
    ],
  },
  nativeConfig: {
    kind: 'object',
    title: 'sgfilter config',
    description: 'Security groups, the instances they are bound to, and the address and service sets rules name. Several documents may make one policy (sgfilter check a.json b.json): each gives some of these.',
    fields: {
      securityGroups: { shape: { kind: 'list', of: ref('securityGroup') }, description: 'The security groups; ids are unique across the documents of a policy.' },
      instances: {
        shape: { kind: 'list', of: ref('instance') },
        description: 'Instances and their groups in priority order. Absent or empty (in every document of the policy): one implicit instance "default" bound to every group in file order.',
      },
      addressSets: { shape: { kind: 'list', of: ref('addressSet') }, description: 'Named address sets, for rule peers to name (ids unique, and not a group\'s id).' },
      serviceSets: { shape: { kind: 'list', of: ref('serviceSet') }, description: 'Named service sets, for rules to name in serviceSet.' },
      version: { shape: { kind: 'anyOf', of: [{ kind: 'string' }, { kind: 'number' }] }, description: "The document's own version label; sgfilter ignores it." },
      description: { shape: text(), description: 'Free text about the document.' },
      $schema: { shape: text('A URL or path of this JSON Schema.'), description: 'The JSON Schema of this file, for editors; sgfilter ignores it.' },
    },
    someOf: [['securityGroups', 'instances', 'addressSets', 'serviceSets']],
  },
  addressSet: {
    kind: 'object',
    title: 'address set',
    description: 'A named set of addresses a rule peer may name: its addresses, or (a set group) the sets it unites.',
    fields: {
      id: { shape: nonBlank('A unique id that does not read as an address, e.g. "office".'), required: true, description: 'Unique among address sets and security groups; not an address, CIDR, range or any.' },
      name: { shape: text(), description: 'A display name.' },
      description: { shape: text(), description: 'Free text.' },
      addresses: { shape: { kind: 'list', of: nonBlank(ADDRESS_SYNTAX) }, description: `The members: ${ADDRESS_SYNTAX}.` },
      sets: { shape: { kind: 'list', of: nonBlank('The id of an address set with addresses.') }, description: 'A set group: the ids of the address sets it unites (each a set with addresses, not a group).' },
    },
    oneOf: [['addresses', 'sets']],
  },
  serviceSet: {
    kind: 'object',
    title: 'service set',
    description: 'A named set of services a rule may name in serviceSet: its services, or (a set group) the sets it unites.',
    fields: {
      id: { shape: nonBlank('A unique id, e.g. "web".'), required: true, description: 'Unique among service sets.' },
      name: { shape: text(), description: 'A display name.' },
      description: { shape: text(), description: 'Free text.' },
      services: { shape: { kind: 'list', of: nonBlank(SERVICE_SYNTAX) }, description: `The members: ${SERVICE_SYNTAX}; any case.` },
      sets: { shape: { kind: 'list', of: nonBlank('The id of a service set with services.') }, description: 'A set group: the ids of the service sets it unites (each a set with services, not a group).' },
    },
    oneOf: [['services', 'sets']],
  },
  securityGroup: {
    kind: 'object',
    title: 'security group',
    description: 'A security group: two ordered rule lists, and an optional template whose rules come after them.',
    fields: {
      id: { shape: nonBlank('A unique id, e.g. "sg-web".'), required: true, description: 'Unique id, e.g. "sg-web"; verdicts name it.' },
      name: { shape: text(), description: 'A display name.' },
      description: { shape: text(), description: 'Free text.' },
      template: { shape: ref('template'), description: `Rules added after the written ones: ${TEMPLATES.map((t) => `${t.name}: ${t.meaning}`).join('; ')}.` },
      inbound: { shape: { kind: 'list', of: { kind: 'anyOf', of: [ref('inboundRule'), ref('terraformRule')] } }, description: 'Inbound rules, first match first: rule objects or Terraform lite strings.' },
      outbound: { shape: { kind: 'list', of: { kind: 'anyOf', of: [ref('outboundRule'), ref('terraformRule')] } }, description: 'Outbound rules, first match first: rule objects or Terraform lite strings.' },
      SecurityGroupPolicySet: { shape: ref('tencentPolicySet'), description: 'A Tencent Cloud policy set, instead of inbound and outbound.' },
    },
    notTogether: [['SecurityGroupPolicySet', 'inbound'], ['SecurityGroupPolicySet', 'outbound']],
  },
  instance: {
    kind: 'object',
    title: 'instance',
    description: 'An instance (a server, a network interface) and the groups bound to it.',
    fields: {
      id: { shape: nonBlank('A unique id, e.g. "ins-1".'), required: true, description: 'Unique id; flows name it in `instance`.' },
      securityGroups: { shape: { kind: 'list', of: { kind: 'string' }, unique: true }, required: true, description: 'Group ids in priority order: the first is evaluated first. Each once.' },
      addresses: {
        shape: { kind: 'list', of: nonBlank('an address, a CIDR or a range a-b (not any)') },
        description: "The instance's own addresses (addresses, CIDRs or ranges a-b, not `any`): a packet to one of them is inbound, from one outbound (trackers, docs/SEMANTICS.md \"State\").",
      },
      name: { shape: text(), description: 'A display name.' },
      description: { shape: text(), description: 'Free text.' },
    },
  },
  inboundRule: {
    kind: 'object',
    title: 'inbound rule',
    description: 'A rule of an inbound list (docs/SEMANTICS.md "Rules"): a protocol or a preset, a peer (source or peer), an action.',
    fields: {
      ...RULE_HEAD,
      source: { shape: nonBlank(PEER_SYNTAX), description: `Where the flow comes from: ${PEER_SYNTAX}.` },
      ...RULE_TAIL,
    },
    ...RULE_RULES,
    oneOf: [['source', 'peer']],
  },
  outboundRule: {
    kind: 'object',
    title: 'outbound rule',
    description: 'A rule of an outbound list (docs/SEMANTICS.md "Rules"): a protocol or a preset, a peer (destination or peer), an action.',
    fields: {
      ...RULE_HEAD,
      destination: { shape: nonBlank(PEER_SYNTAX), description: `Where the flow goes: ${PEER_SYNTAX}.` },
      ...RULE_TAIL,
    },
    ...RULE_RULES,
    oneOf: [['destination', 'peer']],
  },
  terraformRule: {
    kind: 'string',
    description: `A Terraform lite rule (tencentcloud_security_group_lite_rule): ${TERRAFORM_SYNTAX}.`,
    pattern: [
      String.raw`\s*(?:`, { words: ACTION_LIST }, String.raw`)\s*${TERRAFORM_SEPARATOR}[^#]*[^#\s][^#]*${TERRAFORM_SEPARATOR}`,
      ...PORTS_TEXT,
      `${TERRAFORM_SEPARATOR}\\s*(?:`, { words: PROTOCOL_WORDS }, String.raw`|${DECIMAL_BYTE})\s*`,
    ],
    examples: ['ACCEPT#192.168.1.0/24#80#TCP', 'DROP#0.0.0.0/0#ALL#ALL'],
  },
  protocol: {
    kind: 'anyOf',
    description: PROTOCOL_SYNTAX,
    of: [{ kind: 'words', words: PROTOCOL_WORDS }, { kind: 'integer', min: 0, max: 255 }, BYTE_STRING],
  },
  preset: { kind: 'words', description: PRESET_SYNTAX, words: PRESETS.flatMap((p) => (p.label ? [p.name, p.label] : [p.name])), collapseSpaces: true },
  template: { kind: 'words', description: TEMPLATE_SYNTAX, words: TEMPLATES.map((t) => t.name) },
  action: { kind: 'words', description: ACTION_SYNTAX, words: ACTION_LIST },
  ports: {
    kind: 'anyOf',
    description: PORT_SYNTAX,
    of: [{ kind: 'integer', min: 0, max: 65535 }, { kind: 'string', pattern: PORTS_TEXT }],
  },
  tencentPolicy: {
    kind: 'object',
    title: 'Tencent Cloud policy',
    description: 'One entry of Ingress or Egress, as the Tencent Cloud API returns it (read loosely: fields not listed here are ignored, and which fields a policy needs is left to sgfilter check).',
    open: true,
    fields: {
      Protocol: { shape: { kind: 'anyOf', of: [EMPTY, ref('protocol')] }, description: `${PROTOCOL_SYNTAX}; empty or absent when a ServiceTemplate gives the service.` },
      Port: { shape: { kind: 'anyOf', of: [EMPTY, ref('ports')] }, description: `${PORT_SYNTAX}; empty: ALL.` },
      CidrBlock: { shape: text(), description: 'The peer, IPv4 (one of CidrBlock and Ipv6CidrBlock).' },
      Ipv6CidrBlock: { shape: text(), description: 'The peer, IPv6 (one of CidrBlock and Ipv6CidrBlock).' },
      Action: { shape: ref('action'), required: true, description: `${ACTION_SYNTAX}.` },
      PolicyDescription: { shape: text(), description: 'Free text.' },
      PolicyIndex: { shape: { kind: 'any' }, description: 'Position in the list, as Tencent numbers it: a list whose policies give it is evaluated in PolicyIndex order.' },
      SecurityGroupId: { shape: { kind: 'any' }, description: 'A security group as the peer (a group reference): the addresses of every instance bound to it; the policy must define the group.' },
      AddressTemplate: { shape: { kind: 'any' }, description: 'An address template (AddressId, ipm-…) or template group (AddressGroupId, ipmg-…) as the peer, defined by a DescribeAddressTemplates(Groups) output of the policy.' },
      ServiceTemplate: { shape: { kind: 'any' }, description: 'A service template (ServiceId, ppm-…) or template group (ServiceGroupId, ppmg-…) instead of Protocol and Port, defined by a DescribeServiceTemplates(Groups) output of the policy.' },
      ModifyTime: { shape: { kind: 'any' }, description: 'When Tencent last changed the policy.' },
    },
  },
  tencentPolicySet: {
    kind: 'object',
    title: 'Tencent Cloud policy set',
    description: 'A SecurityGroupPolicySet as Tencent Cloud returns it.',
    open: true,
    fields: TENCENT_SET_FIELDS,
  },
  tencentPolicySetBare: {
    kind: 'object',
    title: 'Tencent Cloud policy set document',
    description: 'A SecurityGroupPolicySet on its own ({Version, Ingress, Egress}): one group with id "tencent".',
    open: true,
    fields: TENCENT_SET_FIELDS,
    someOf: [['Ingress', 'Egress']],
    absent: ['securityGroups'],
  },
  tencentResponse: {
    kind: 'object',
    title: 'Tencent Cloud API response',
    description: 'The whole DescribeSecurityGroupPolicies output: one group with id "tencent".',
    open: true,
    fields: {
      Response: {
        shape: { kind: 'object', open: true, fields: { SecurityGroupPolicySet: { shape: ref('tencentPolicySet'), required: true, description: 'The policy set.' } } },
        required: true,
        description: 'The API response.',
      },
    },
  },
  tencentPolicySetDocument: {
    kind: 'object',
    title: 'Tencent Cloud SecurityGroupPolicySet',
    description: 'A {"SecurityGroupPolicySet": ...} object: one group with id "tencent".',
    open: true,
    fields: { SecurityGroupPolicySet: { shape: ref('tencentPolicySet'), required: true, description: 'The policy set.' } },
  },
  tencentAddressTemplate: {
    kind: 'object',
    title: 'Tencent Cloud address template',
    description: 'An address template (ipm-…) as DescribeAddressTemplates returns it. A CIDR with host bits (Tencent stores some) is read as its network, with a warning.',
    fields: {
      AddressTemplateId: { shape: nonBlank('ipm-…'), required: true, description: 'The template id: what policies name in AddressTemplate.AddressId.' },
      AddressTemplateName: { shape: text(), description: 'Its name.' },
      AddressSet: { shape: { kind: 'list', of: { kind: 'string' } }, description: 'Its addresses: addresses, CIDRs or ranges a-b.' },
      AddressExtraSet: {
        shape: { kind: 'list', of: { kind: 'object', fields: { Address: { shape: { kind: 'string' }, required: true, description: 'An address, CIDR or range.' }, Description: { shape: text(), description: 'Free text.' } } } },
        description: 'The same addresses with descriptions (must agree with AddressSet when both are given).',
      },
      ...TENCENT_OUTPUT_ONLY,
    },
    someOf: [['AddressSet', 'AddressExtraSet']],
  },
  tencentAddressTemplateGroup: {
    kind: 'object',
    title: 'Tencent Cloud address template group',
    description: 'An address template group (ipmg-…) as DescribeAddressTemplateGroups returns it: the union of its member templates.',
    fields: {
      AddressTemplateGroupId: { shape: nonBlank('ipmg-…'), required: true, description: 'The group id: what policies name in AddressTemplate.AddressGroupId.' },
      AddressTemplateGroupName: { shape: text(), description: 'Its name.' },
      AddressTemplateIdSet: { shape: { kind: 'list', of: { kind: 'string' } }, required: true, description: 'Its member templates (ipm-…): what defines the group.' },
      AddressTemplateSet: { shape: { kind: 'list', of: { kind: 'any' } }, description: 'Member details as Tencent reports them; not read (the id set defines the group).' },
      ...TENCENT_OUTPUT_ONLY,
    },
  },
  tencentServiceTemplate: {
    kind: 'object',
    title: 'Tencent Cloud service template',
    description: 'A service template (ppm-…) as DescribeServiceTemplates returns it.',
    fields: {
      ServiceTemplateId: { shape: nonBlank('ppm-…'), required: true, description: 'The template id: what policies name in ServiceTemplate.ServiceId.' },
      ServiceTemplateName: { shape: text(), description: 'Its name.' },
      ServiceSet: { shape: { kind: 'list', of: { kind: 'string' } }, description: `Its services: ${SERVICE_SYNTAX}.` },
      ServiceExtraSet: {
        shape: { kind: 'list', of: { kind: 'object', fields: { Service: { shape: { kind: 'string' }, required: true, description: 'A service.' }, Description: { shape: text(), description: 'Free text.' } } } },
        description: 'The same services with descriptions (must agree with ServiceSet when both are given).',
      },
      ...TENCENT_OUTPUT_ONLY,
    },
    someOf: [['ServiceSet', 'ServiceExtraSet']],
  },
  tencentServiceTemplateGroup: {
    kind: 'object',
    title: 'Tencent Cloud service template group',
    description: 'A service template group (ppmg-…) as DescribeServiceTemplateGroups returns it: the union of its member templates.',
    fields: {
      ServiceTemplateGroupId: { shape: nonBlank('ppmg-…'), required: true, description: 'The group id: what policies name in ServiceTemplate.ServiceGroupId.' },
      ServiceTemplateGroupName: { shape: text(), description: 'Its name.' },
      ServiceTemplateIdSet: { shape: { kind: 'list', of: { kind: 'string' } }, required: true, description: 'Its member templates (ppm-…): what defines the group.' },
      ServiceTemplateSet: { shape: { kind: 'list', of: { kind: 'any' } }, description: 'Member details as Tencent reports them; not read (the id set defines the group).' },
      ...TENCENT_OUTPUT_ONLY,
    },
  },
  tencentTemplateList: {
    kind: 'object',
    title: 'Tencent Cloud template output',
    description: 'The output of DescribeAddressTemplates, DescribeAddressTemplateGroups, DescribeServiceTemplates or DescribeServiceTemplateGroups without its Response wrapper: a document of a policy, defining the templates its policies name.',
    fields: TENCENT_LIST_FIELDS,
    someOf: [TEMPLATE_LISTS],
  },
  tencentTemplateResponse: {
    kind: 'object',
    title: 'Tencent Cloud template API response',
    description: 'The whole output of DescribeAddressTemplates, DescribeAddressTemplateGroups, DescribeServiceTemplates or DescribeServiceTemplateGroups.',
    fields: { Response: { shape: ref('tencentTemplateList'), required: true, description: 'The API response.' } },
  },
  awsDocument: {
    kind: 'object',
    title: 'AWS describe-security-groups output',
    description: 'The output of `aws ec2 describe-security-groups` as it is: each group becomes a security group of accept rules (AWS groups allow only, in no order; what no rule allows is dropped).',
    fields: {
      SecurityGroups: { shape: { kind: 'list', of: ref('awsSecurityGroup') }, required: true, description: 'The groups.' },
      NextToken: { shape: text(), description: 'A pagination token (informational).' },
    },
  },
  awsSecurityGroup: {
    kind: 'object',
    title: 'AWS security group',
    description: 'One AWS security group.',
    fields: {
      GroupId: { shape: nonBlank('sg-…'), required: true, description: 'The group id: its id in the policy, and what UserIdGroupPairs and instances name.' },
      GroupName: { shape: text(), description: 'Its name.' },
      Description: { shape: text(), description: 'Free text.' },
      IpPermissions: { shape: { kind: 'list', of: ref('awsPermission') }, description: 'Inbound permissions (accept rules).' },
      IpPermissionsEgress: { shape: { kind: 'list', of: ref('awsPermission') }, description: 'Outbound permissions (accept rules).' },
      OwnerId: { shape: text(), description: 'Informational.' },
      VpcId: { shape: text(), description: 'Informational.' },
      SecurityGroupArn: { shape: text(), description: 'Informational.' },
      Tags: { shape: { kind: 'list', of: { kind: 'any' } }, description: 'Informational.' },
    },
  },
  awsPermission: {
    kind: 'object',
    title: 'AWS permission',
    description: 'One IpPermissions / IpPermissionsEgress entry: a protocol and ports, and its peers (each peer is one accept rule).',
    fields: {
      IpProtocol: { shape: { kind: 'string', pattern: [String.raw`\s*(?:`, { words: ['tcp', 'udp', 'icmp', 'icmpv6', '-1'] }, String.raw`|${DECIMAL_BYTE})\s*`] }, required: true, description: 'tcp, udp, icmp, icmpv6, a protocol number 0-255, or -1 (every protocol).' },
      FromPort: { shape: { kind: 'integer', min: -1, max: 65535 }, description: 'TCP/UDP: the first port. ICMP/ICMPv6: the type (-1: any).' },
      ToPort: { shape: { kind: 'integer', min: -1, max: 65535 }, description: 'TCP/UDP: the last port. ICMP/ICMPv6: the code (-1: any).' },
      IpRanges: { shape: { kind: 'list', of: ref('awsIpRange') }, description: 'IPv4 peers.' },
      Ipv6Ranges: { shape: { kind: 'list', of: ref('awsIpv6Range') }, description: 'IPv6 peers.' },
      UserIdGroupPairs: { shape: { kind: 'list', of: ref('awsUserIdGroupPair') }, description: 'Security groups as peers (group references: the addresses of the instances bound to them).' },
      PrefixListIds: { shape: { kind: 'list', of: ref('awsPrefixListId') }, description: 'Prefix lists as peers: refused, naming the id (sgfilter is not given their entries).' },
    },
  },
  awsIpRange: { kind: 'object', title: 'AWS IPv4 range', fields: { CidrIp: { shape: nonBlank('an IPv4 CIDR'), required: true, description: 'The IPv4 CIDR.' }, ...AWS_DESCRIPTION } },
  awsIpv6Range: { kind: 'object', title: 'AWS IPv6 range', fields: { CidrIpv6: { shape: nonBlank('an IPv6 CIDR'), required: true, description: 'The IPv6 CIDR.' }, ...AWS_DESCRIPTION } },
  awsUserIdGroupPair: {
    kind: 'object',
    title: 'AWS group reference',
    fields: {
      GroupId: { shape: nonBlank('sg-…'), required: true, description: 'The referenced group (the policy must define it).' },
      GroupName: { shape: text(), description: 'Informational.' },
      UserId: { shape: text(), description: 'Informational.' },
      VpcId: { shape: text(), description: 'Informational.' },
      VpcPeeringConnectionId: { shape: text(), description: 'Informational.' },
      PeeringStatus: { shape: text(), description: 'Informational.' },
      ...AWS_DESCRIPTION,
    },
  },
  awsPrefixListId: { kind: 'object', title: 'AWS prefix list peer', fields: { PrefixListId: { shape: text(), description: 'The prefix list (refused).' }, ...AWS_DESCRIPTION } },
} as const satisfies Record<ShapeName, Shape>;


/** Field names of an object shape, in declaration order. */
export function fieldNames(shape: ObjectShape): readonly string[] {
  return Object.keys(shape.fields);
}

export const CONFIG_FIELDS = fieldNames(SHAPES.nativeConfig);
export const GROUP_FIELDS = fieldNames(SHAPES.securityGroup);
export const INSTANCE_FIELDS = fieldNames(SHAPES.instance);
export const ADDRESS_SET_FIELDS = fieldNames(SHAPES.addressSet);
export const SERVICE_SET_FIELDS = fieldNames(SHAPES.serviceSet);
/** The lists a Tencent template output may hold, and the fields beside them. */
export const TENCENT_TEMPLATE_LISTS: readonly string[] = TEMPLATE_LISTS;
export const TENCENT_TEMPLATE_DOCUMENT_FIELDS = fieldNames(SHAPES.tencentTemplateList);
/** Every field a rule object may have in either direction (source on an outbound rule is WRONG_DIRECTION_FIELD, not UNKNOWN_FIELD). */
export const RULE_FIELDS: readonly string[] = (() => {
  const out = [...fieldNames(SHAPES.inboundRule)];
  const outbound = fieldNames(SHAPES.outboundRule);
  outbound.forEach((f, i) => {
    if (out.includes(f)) return;
    // After the field that precedes it in outbound rules, and after inbound-only fields there (source, then destination).
    let at = i === 0 ? 0 : out.indexOf(outbound[i - 1]!) + 1;
    while (at < out.length && !outbound.includes(out[at]!)) at++;
    out.splice(at, 0, f);
  });
  return out;
})();

// ---------------------------------------------------------------- the input types agree

/** True when A and B are the same set of types. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Keys<S extends { fields: object }> = keyof S['fields'];
type Word<T> = T extends string ? Lowercase<T> : never;

// Each line fails to compile when src/types.ts and the declarations above disagree.
const agree: [
  Same<keyof ConfigInput, Keys<typeof SHAPES.nativeConfig>>,
  Same<keyof SecurityGroupInput, Keys<typeof SHAPES.securityGroup>>,
  Same<keyof InstanceInput, Keys<typeof SHAPES.instance>>,
  Same<keyof AddressSetInput, Keys<typeof SHAPES.addressSet>>,
  Same<keyof ServiceSetInput, Keys<typeof SHAPES.serviceSet>>,
  Same<keyof AwsSecurityGroup, Keys<typeof SHAPES.awsSecurityGroup>>,
  Same<keyof AwsIpPermission, Keys<typeof SHAPES.awsPermission>>,
  Same<keyof AwsUserIdGroupPair, Keys<typeof SHAPES.awsUserIdGroupPair>>,
  Same<keyof TencentAddressTemplate, Keys<typeof SHAPES.tencentAddressTemplate>>,
  Same<keyof TencentAddressTemplateGroup, Keys<typeof SHAPES.tencentAddressTemplateGroup>>,
  Same<keyof TencentServiceTemplate, Keys<typeof SHAPES.tencentServiceTemplate>>,
  Same<keyof TencentServiceTemplateGroup, Keys<typeof SHAPES.tencentServiceTemplateGroup>>,
  Same<keyof RuleInput, Keys<typeof SHAPES.inboundRule> | Keys<typeof SHAPES.outboundRule>>,
  Same<ProtocolName, (typeof PROTOCOLS)[number]['name']>,
  Same<PresetName, (typeof PRESETS)[number]['name']>,
  Same<PresetLabel, Exclude<(typeof PRESETS)[number]['label'], undefined>>,
  Same<TemplateName, (typeof TEMPLATES)[number]['name']>,
  Same<Word<ActionInput>, (typeof ACTION_WORDS)[number][0]>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void agree;
