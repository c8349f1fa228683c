/**
 * Every error sgfilter throws is an SgfilterError with a stable `code`; match on
 * `code`, never on message text. Config validation collects every issue of a
 * config (each with its own code and path) into one CONFIG_INVALID error.
 *
 * Messages are bounded by what they show, never by the input: lists of ids are cut
 * (listOf, src/config/plain.ts), user text is quoted and clipped (quote), an error's
 * message spells out at most MAX_ISSUES_SHOWN issues and keeps at most MAX_ISSUES.
 */
import { nameText, quote } from './config/plain.js';

/** Codes of errors thrown by the library (error.code). */
export const ErrorCodes = {
  CONFIG_INVALID: 'a config has one or more issues (see error.issues)',
  CONFIG_PARSE: 'a config file is not valid JSON/YAML',
  FLOW_INVALID: 'a flow is malformed (see error.issues)',
  UNKNOWN_INSTANCE: 'a flow names an instance the policy does not have',
  TABLE_TOO_LARGE: 'the compiled table would exceed a limit: the configured byte limit (maxTableBytes), the boxes of one classifier, the compile work of address prefixes and port intervals (issue EXPANSION_TOO_LARGE) or the lookup work of one flow (issue LOOKUP_TOO_SLOW)',
  WASM_LOAD: 'the WASM matcher could not be loaded or has another ABI',
  BATCH_MISMATCH: 'a flow batch or output buffer has the wrong shape (too short, an index outside the batch, a batch not classified yet, packed flows that validation could not have written)',
  INVALID_ARGUMENT: 'an API argument is outside what the function accepts',
  SNAPSHOT_INVALID: 'a compiled-policy snapshot is truncated, corrupted, malformed (its table or metadata fails the load-time checks), or from another format/ABI',
  SNAPSHOT_UNSIGNED: 'a snapshot without a signature was given to a load that has a key (createEngine({ snapshot, key }), loadSnapshot on an engine given a key, verifySnapshot)',
  SNAPSHOT_SIGNATURE: 'a signed snapshot does not verify with the key given: it was changed after signing, or signed with another key',
  SNAPSHOT_KEY: 'a snapshot key is unusable: not bytes or an HMAC SHA-256 CryptoKey, shorter than 32 bytes, key text neither hex nor base64, or no WebCrypto in the runtime',
  VERSION_CONFLICT: 'a reload named an expectedVersion that is no longer the published one',
  CAPTURE_INVALID: 'a capture file (pcap/pcapng) is corrupt: a magic number, length, offset or field is impossible (error.offset: the first bad byte; error.recordOffset: where its record starts; every packet before that record was delivered)',
  CAPTURE_TRUNCATED: 'a capture file ends inside its file header or inside a record (error.offset: the end of the data; error.recordOffset: where the cut record starts; every packet before it was delivered)',
  CAPTURE_UNSUPPORTED: 'a capture file is well formed but past what sgfilter reads (a format version, more interfaces than maxInterfaces), or a packet has a timestamp the output format cannot hold',
  CAPTURE_LINK_TYPE_MISMATCH: 'a classic pcap output was given a packet of a link type other than its own (a pcap file holds one link type; write pcapng for several)',
  PACKET_BATCH_INVALID: 'a packet batch descriptor (offsets, lengths, timestamps, link types) does not fit its bytes or is not whole numbers',
  TRACKER_CLOSED: 'a tracker was used after tracker.close()',
  MEMORY_LIMIT: 'the engine\'s WASM memory cannot hold what was asked (a policy table, a flow window or answer area for a batch, a tracker\'s connection table): it would pass the engine option maxMemoryBytes (at most and by default 2 GiB − 64 KiB, so that every WASM address is a non-negative int32) or the runtime refused to grow it; nothing changed: the engine keeps its policy and trackers, and the memory of what failed is free again',
  ERR_SGFILTER_DROPPED: 'a guarded outbound connection was refused by the policy before it was dialled (error.groupId, error.ruleIndex, error.address name the deciding rule and address)',
  POLICY_UNAVAILABLE: 'a policy source (createPolicySource: Workers KV, R2, a URL) has no policy to give: nothing loaded yet because nothing is published, the store failed or timed out, or every snapshot it offered was refused; requests fail closed (error.cause: the last failure)',
  POLICY_STORE: 'a policy store could not be read: the KV/R2 call or fetch failed, timed out or answered an HTTP error, or a key the version key names is not there (not published, or not replicated to this location yet)',
  POLICY_INVALID: 'a policy store holds what a policy source refuses: a malformed version key, a snapshot whose size, SHA-256 or own version is not what the version key says, one over the size limit, or a version older than (or equal to, with other bytes) the one in use',
  PUBLISH_FAILED: 'sgfilter publish (publishPolicy) could not write: the Cloudflare API refused a call (status and Cloudflare error codes in the message) or could not be reached in time, no API token or account id was given, or the local KV could not be opened',
  PUBLISH_CONFLICT: 'another publish got in first: the version key moved while this publish was writing, or the next version\'s snapshot key is already taken; nothing was made current, publish again',
  ANALYSIS_TOO_LARGE: 'diffPolicies (or engine.previewUpdate) would need more work than its limits allow: more than maxWork units (default 2^25: box tests, boxes made and rules tested for a witness) or a region cut into more than maxRegionBoxes boxes (default 16,384); nothing is returned, since a partial diff would hide changes (lintPolicy reports the rules it could not judge instead, as not-analyzed findings)',
  FILE_ACCESS: 'a file the API was given (a capture to read, a capture output to write) could not be opened, read or written: it does not exist, permission denied, a folder, a full disk...; the message says which file and why in words, error.cause is the system error (its errno code in error.cause.code)',
  WORKER_FAILED: 'a worker thread (compileInWorker, reloadInWorker, a classifier pool) crashed, exited, lost a message or did not answer in time; the call changed nothing, and the next call starts a new thread',
} as const;
/** A code of {@link ErrorCodes}: what `error.code` holds. */
export type ErrorCode = keyof typeof ErrorCodes;

/** Codes of individual config/flow issues (issue.code). */
export const IssueCodes = {
  PARSE_ERROR: 'the file is not valid JSON or YAML (issue.line and issue.column say where)',
  NOT_CONFIG_TEXT: 'a file given as a config is not config text: it is empty, a compiled sgfilter snapshot, a packet capture, compressed or an archive, binary, or not UTF-8',
  FILE_UNREADABLE: 'a file could not be read: it does not exist, permission denied, or it is not a regular file (a folder, a FIFO, a device: refused without waiting on it); the message says which in words, issue.given the errno code or NOT_A_FILE',
  DUPLICATE_KEY: 'an object (JSON) or mapping (YAML) gives the same key twice; readers disagree on which one counts, so it is refused (issue.line, issue.column: the second one)',
  TOO_DEEP: 'lists and objects are nested more than 64 levels deep (a config needs fewer than 10); refused before any parser recurses on it',
  YAML_UNSUPPORTED: 'YAML outside the 1.2 core schema: a %YAML directive other than 1.2 (YAML 1.1 reads 1:02 as 62 and yes as true) or a tag such as !!binary, !!timestamp or !custom',
  ALIAS_EXPANSION: 'repeated references (YAML aliases, or one JS object used in many places) would add more than 1,000,000 values to the document (a string weighs one value per 64 characters): an expansion bomb ("billion laughs")',
  CIRCULAR: 'a value contains itself (a YAML alias inside its own anchor, or a JS object cycle); a config is a tree',
  STRING_TOO_LONG: 'a string or key is longer than 1,048,576 characters',
  UNREADABLE_VALUE: 'reading a JS value threw (a getter or Proxy trap); configs and edits must be plain data',
  INVALID_TYPE: 'a value has the wrong JSON type (e.g. a number where a list is needed), or is not JSON data at all (a BigInt, function, symbol, class instance or a hole in a list, which only the JS API can pass)',
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
  UNKNOWN_GROUP: 'an instance, an edit or a group reference (a rule whose peer names a security group: native peers, Tencent SecurityGroupId, AWS UserIdGroupPairs) names a group the policy does not define',
  UNDEFINED_TEMPLATE: 'a Tencent Cloud rule references a parameter template (ipm-, ipmg-, ppm-, ppmg-) that no document of the policy defines (give the DescribeAddressTemplates, DescribeAddressTemplateGroups, DescribeServiceTemplates or DescribeServiceTemplateGroups output beside it)',
  DUPLICATE_SET: 'two address sets (or two service sets) share an id, in one document or across the documents of one policy',
  UNKNOWN_SET: 'a rule (serviceSet), a set group (sets) or an edit names a set the policy does not define',
  NESTED_SET: 'a set group lists another set group; a set group\'s members are sets of addresses (or services) themselves, as Tencent\'s template groups are',
  AMBIGUOUS_SET_ID: 'an address set id reads as a peer (an address, a CIDR, a range or any), or is also a security group\'s id, so a peer naming it would be ambiguous',
  INVALID_SERVICE: 'a service of a service set is not PROTOCOL or PROTOCOL:PORTS (tcp:80, udp:53,5353, tcp:8000-8010, icmp, ALL)',
  INVALID_POLICY_INDEX: 'a Tencent PolicyIndex is not a whole number >= 0 (a PolicyIndex missing on some policies of a list, or shared by two, is a warning: the list keeps its array order there)',
  SET_IN_USE: 'an edit removes an address set or service set that a rule or a set group still uses',
  API_ERROR_RESPONSE: 'a document is a Tencent Cloud API error response ({"Response": {"Error": {"Code", "Message"}}}), not an output to read: the call that made it failed (its Code and Message are quoted)',
  UNSUPPORTED: 'a feature of an imported format that sgfilter cannot evaluate (an AWS PrefixListIds peer: the prefix list\'s id is named)',
  INVALID_TERRAFORM_RULE: 'a Terraform lite rule is not ACTION#PEER#PORT#PROTOCOL',
  UNKNOWN_INSTANCE: 'a flow (or an edit) names an instance the config does not have',
  UNKNOWN_EDIT: 'an update names an operation that update() does not know',
  INVALID_DIRECTION: 'an edit names a direction other than inbound or outbound',
  INDEX_OUT_OF_RANGE: 'an edit names a rule or position past the end of its list',
  TEMPLATE_RULE: 'an edit names a rule that comes from the group template (template rules stay the group\'s tail)',
  GROUP_IN_USE: 'an edit removes a group that an instance still binds, or that a rule still names as its peer (a group reference)',
  GROUP_NOT_BOUND: 'an edit unbinds a group that the instance does not list',
  LAST_INSTANCE: 'an update would remove every instance of the policy; no config can say that (a config without instances means the implicit default instance bound to every group), so it is refused: add the replacing instance in the same update, or reload a config without instances',
  INVALID_FLOW: 'a flow field is malformed',
  TOO_MANY_ISSUES: 'the last issue of a list cut at MAX_ISSUES (1,000): it says how many more were found; fix the first ones and check again',
  EXPANSION_TOO_LARGE: 'a policy would expand to more than MAX_COMPILE_ENTRIES (8,388,608) address prefixes and port intervals, counted per rule and per classifier that holds it (src/compile/index.ts); refused before the work',
  LOOKUP_TOO_SLOW: 'one lookup of an instance and direction would take more than MAX_LOOKUP_WORK (4,194,304) steps: too many groups chained one by one (src/snapshot/table.ts says how steps are counted)',
} as const;
/** A code of {@link IssueCodes}: what `issue.code` holds. */
export type IssueCode = keyof typeof IssueCodes;

/** Where in a document: keys and list indexes from its root, e.g. `["securityGroups", 1, "inbound", 4, "port"]`. */
export type Path = (string | number)[];

/** One problem found in a config or a flow. */
export interface Issue {
  /** What kind of problem (stable; match on it). */
  code: IssueCode;
  /** Where, as keys from the document root, e.g. ["securityGroups", 1, "inbound", 4, "port"]. */
  path: Path;
  /** A readable sentence: where, what was given, what is allowed. */
  message: string;
  /** The value that was given (absent when the problem is a missing value). */
  given?: unknown;
  /** What would have been accepted. */
  allowed?: string;
  /** Config text issues: the line in the file, 1-based. */
  line?: number;
  /** Config text issues: the column in the line, 1-based, in characters. */
  column?: number;
  /**
   * When several documents make one policy (parseConfigDocuments, `sgfilter check a.json
   * b.json`): the document the path is in, by its file name, or `documents[i]`.
   */
  file?: string;
}

/**
 * Most issues an error keeps in `error.issues`: past it, the list is cut and its last
 * issue (TOO_MANY_ISSUES) says how many more were found. A document with 100,000
 * mistakes is refused just the same; its error stays a size anyone can print.
 */
export const MAX_ISSUES = 1000;
/** Most issues an error's message spells out (the rest are counted; all are in error.issues). */
export const MAX_ISSUES_SHOWN = 20;

/** `issues` cut at MAX_ISSUES, with a last TOO_MANY_ISSUES issue counting the rest (the same list when short enough). */
export function capIssues(issues: Issue[]): Issue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const more = issues.length - (MAX_ISSUES - 1);
  return [
    ...issues.slice(0, MAX_ISSUES - 1),
    { code: 'TOO_MANY_ISSUES', path: [], given: issues.length, message: `… and ${more.toLocaleString('en-US')} more issues (${issues.length.toLocaleString('en-US')} in all; only the first ${(MAX_ISSUES - 1).toLocaleString('en-US')} are listed)` },
  ];
}

/**
 * Every error sgfilter throws or rejects with. Match on `code` (a key of
 * {@link ErrorCodes}), never on the message; CONFIG_INVALID, CONFIG_PARSE and
 * FLOW_INVALID carry every problem found in `issues`, each with its own code and path.
 */
export class SgfilterError extends Error {
  /** What went wrong, stable across versions. */
  readonly code: ErrorCode;
  /** Every issue found, up to MAX_ISSUES (then the last one says how many more there were). */
  readonly issues: Issue[];
  constructor(code: ErrorCode, message: string, issues: Issue[] = []) {
    super(message);
    this.name = 'SgfilterError';
    this.code = code;
    this.issues = capIssues(issues);
  }
}

/** Path keys written bare: words a person types, short, nothing a terminal or a reader would misread. */
const PLAIN_KEY = /^[A-Za-z0-9_$@-]{1,40}$/;

/**
 * Formats a path the way users write it: securityGroups[1].inbound[4].port. A key
 * that is not a plain word (spaces, quotes, control characters, 41 characters or
 * more) is written in brackets and JSON quotes, clipped: ["my key"].
 */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (!PLAIN_KEY.test(key)) out += `[${quote(key, 40)}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out || '(root)';
}

/**
 * The issues as message lines ("  - CODE at path: message"): at most `max`, then a
 * line counting the rest, so a message grows with what it shows, not with the input.
 */
export function describeIssues(issues: Issue[], max = MAX_ISSUES_SHOWN): string {
  // An issue's own file only (never one Object.prototype holds).
  const lines = issues.slice(0, max).map((i) => `  - ${i.code} at ${!Object.hasOwn(i, 'file') || i.file === undefined ? '' : `${nameText(i.file)}: `}${formatPath(i.path)}: ${i.message}`);
  if (issues.length > max) lines.push(`  … and ${(issues.length - max).toLocaleString('en-US')} more (error.issues lists them)`);
  return lines.join('\n');
}

/** How many issues were found: the length of the list, or what its TOO_MANY_ISSUES last issue counted. */
export function issueCount(issues: Issue[]): number {
  const last = issues.at(-1);
  return last?.code === 'TOO_MANY_ISSUES' && typeof last.given === 'number' ? last.given : issues.length;
}

export function configError(issues: Issue[], source?: string): SgfilterError {
  const where = source ? ` in ${nameText(source)}` : '';
  const n = issueCount(issues);
  return new SgfilterError(
    'CONFIG_INVALID',
    `invalid config${where}: ${n.toLocaleString('en-US')} issue${n === 1 ? '' : 's'}\n${describeIssues(issues)}`,
    issues,
  );
}
