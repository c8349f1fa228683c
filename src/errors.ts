/**
 * Every error sgfilter throws is an SgfilterError with a stable `code`; match on
 * `code`, never on message text. Config validation collects every issue of a
 * config (each with its own code and path) into one CONFIG_INVALID error.
 */

/** Codes of errors thrown by the library (error.code). */
export const ErrorCodes = {
  CONFIG_INVALID: 'a config has one or more issues (see error.issues)',
  CONFIG_PARSE: 'a config file is not valid JSON/YAML',
  FLOW_INVALID: 'a flow is malformed (see error.issues)',
  UNKNOWN_INSTANCE: 'a flow names an instance the policy does not have',
  TABLE_TOO_LARGE: 'the compiled table would exceed the configured byte limit',
  WASM_LOAD: 'the WASM matcher could not be loaded or has another ABI',
  BATCH_MISMATCH: 'a flow batch or output buffer has the wrong shape',
  INVALID_ARGUMENT: 'an API argument is outside what the function accepts',
  SNAPSHOT_INVALID: 'a compiled-policy snapshot is truncated, corrupted, or from another format/ABI',
  VERSION_CONFLICT: 'a reload named an expectedVersion that is no longer the published one',
  PACKET_BATCH_INVALID: 'a packet batch descriptor (offsets, lengths, timestamps, link types) does not fit its bytes or is not whole numbers',
  TRACKER_CLOSED: 'a tracker was used after tracker.close()',
  ERR_SGFILTER_DROPPED: 'a guarded outbound connection was refused by the policy before it was dialled (error.groupId, error.ruleIndex, error.address name the deciding rule and address)',
} as const;
export type ErrorCode = keyof typeof ErrorCodes;

/** Codes of individual config/flow issues (issue.code). */
export const IssueCodes = {
  PARSE_ERROR: 'the file is not valid JSON or YAML',
  INVALID_TYPE: 'a value has the wrong JSON type (e.g. a number where a list is needed)',
  MISSING_FIELD: 'a required field is absent',
  UNKNOWN_FIELD: 'a field name is not part of the format (often a typo)',
  EMPTY_RULE: 'a rule has no fields at all',
  UNKNOWN_PRESET: 'a rule type is not a known preset',
  UNKNOWN_TEMPLATE: 'a group template is not open-all, open-common or custom',
  UNKNOWN_PROTOCOL: 'a protocol is not TCP, UDP, ICMP, ICMPv6, GRE, ALL or 0-255',
  INVALID_ACTION: 'an action is not accept/allow or drop/reject/deny',
  INVALID_PORT: 'a port specification cannot be read',
  PORT_OUT_OF_RANGE: 'a port is outside 0-65535',
  REVERSED_RANGE: 'a range has its high end first',
  PORT_NOT_ALLOWED: 'a port was given for a protocol that has none',
  INVALID_ADDRESS: 'an address, CIDR or range cannot be read',
  PREFIX_TOO_LONG: 'a prefix length is past 32 (IPv4) or 128 (IPv6)',
  HOST_BITS_SET: 'a CIDR has bits set past its prefix length',
  MIXED_FAMILIES: 'a range mixes IPv4 and IPv6 ends',
  INVALID_ICMP: 'icmpType/icmpCode is outside 0-255 or used without ICMP',
  CONFLICTING_FIELDS: 'two fields say different things (e.g. a preset and a port)',
  WRONG_DIRECTION_FIELD: 'source on an outbound rule or destination on an inbound one',
  DUPLICATE_GROUP: 'two groups share an id',
  DUPLICATE_INSTANCE: 'two instances share an id',
  DUPLICATE_BINDING: 'an instance lists the same group twice',
  UNKNOWN_GROUP: 'an instance (or an edit) names a group the config does not define',
  UNDEFINED_TEMPLATE: 'a Tencent Cloud rule references a parameter template that is not defined',
  UNSUPPORTED: 'a feature of an imported format that sgfilter cannot evaluate',
  INVALID_TERRAFORM_RULE: 'a Terraform lite rule is not ACTION#PEER#PORT#PROTOCOL',
  UNKNOWN_INSTANCE: 'a flow (or an edit) names an instance the config does not have',
  UNKNOWN_EDIT: 'an update names an operation that update() does not know',
  INVALID_DIRECTION: 'an edit names a direction other than inbound or outbound',
  INDEX_OUT_OF_RANGE: 'an edit names a rule or position past the end of its list',
  TEMPLATE_RULE: 'an edit names a rule that comes from the group template (template rules stay the group\'s tail)',
  GROUP_IN_USE: 'an edit removes a group that an instance still binds',
  GROUP_NOT_BOUND: 'an edit unbinds a group that the instance does not list',
  INVALID_FLOW: 'a flow field is malformed',
} as const;
export type IssueCode = keyof typeof IssueCodes;

export type Path = (string | number)[];

/** One problem found in a config or a flow. */
export interface Issue {
  code: IssueCode;
  /** Where, as keys from the document root, e.g. ["securityGroups", 1, "inbound", 4, "port"]. */
  path: Path;
  /** A readable sentence: where, what was given, what is allowed. */
  message: string;
  /** The value that was given (absent when the problem is a missing value). */
  given?: unknown;
  /** What would have been accepted. */
  allowed?: string;
}

export class SgfilterError extends Error {
  readonly code: ErrorCode;
  readonly issues: Issue[];
  constructor(code: ErrorCode, message: string, issues: Issue[] = []) {
    super(message);
    this.name = 'SgfilterError';
    this.code = code;
    this.issues = issues;
  }
}

/** Formats a path the way users write it: securityGroups[1].inbound[4].port */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out || '(root)';
}

export function describeIssues(issues: Issue[]): string {
  return issues.map((i) => `  - ${i.code} at ${formatPath(i.path)}: ${i.message}`).join('\n');
}

export function configError(issues: Issue[], source?: string): SgfilterError {
  const where = source ? ` in ${source}` : '';
  const n = issues.length;
  return new SgfilterError(
    'CONFIG_INVALID',
    `invalid config${where}: ${n} issue${n === 1 ? '' : 's'}\n${describeIssues(issues)}`,
    issues,
  );
}
