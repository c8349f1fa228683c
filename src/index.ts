/**
 * sgfilter — cloud security-group semantics as a fast WebAssembly packet filter.
 * This is the one public surface (Node build). See README.md and docs/DESIGN.md.
 */
import type { Engine, EngineOptions } from './engine.js';
import { createEngineFrom, type EngineSource } from './create.js';
import { nodeWasmBytes } from './wasm/node.js';
import { loadConfigFileFor } from './node/config-file.js';
import { PolicySource, type PolicySourceOptions } from './distribution/source.js';

/**
 * Creates an engine for a policy source:
 *   - a config object (native, or a Tencent API policy document), or a validated Config;
 *   - `{ file: 'policy.yaml', format? }`: a JSON or YAML config file (format by extension, or 'json' / 'yaml');
 *   - `{ text, format? }`: config text ('json', the default, or 'yaml');
 *   - `{ snapshot, key? }`: a compiled snapshot (engine.snapshot(), `sgfilter compile`);
 *     with a key, it and every later loadSnapshot must be signed with it (a
 *     loadSnapshot `{ key }` that is another key is SNAPSHOT_KEY).
 * A bare string is refused (INVALID_ARGUMENT): say whether it is a file or text.
 * Rejects with an SgfilterError on bad input: CONFIG_INVALID (every issue),
 * CONFIG_PARSE, SNAPSHOT_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY,
 * INVALID_ARGUMENT.
 */
export async function createEngine(source: EngineSource, options: EngineOptions & { wasm?: WebAssembly.Module | Uint8Array } = {}): Promise<Engine> {
  return createEngineFrom(source, options, nodeWasmBytes, (path, format) => loadConfigFileFor('createEngine', path, format));
}

export type { EngineSource } from './create.js';
export type { ConfigTextSource, ConfigFileSource } from './config/source.js';

/**
 * A policy source (the edge entry's, for Node too): the policy read from a Workers KV
 * namespace binding, an R2 binding or a URL where `sgfilter publish` puts signed
 * snapshots, verified with `key`, refreshed at most every `refreshSeconds`.
 */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  return new PolicySource(options, (source, engineOptions) => createEngine(source, engineOptions));
}

export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type UpdatePreview, type SnapshotSource, type SnapshotOptions, type LoadSnapshotOptions } from './engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type CommittedEdits } from './policy/transaction.js';
export { watchConfig, type WatchOptions, type ConfigWatcher } from './node/watch.js';
export { FlowBatch, createFlowBatch, parseFlow } from './flow.js';
export { createFlowBatchFromBytes, type FlowBytes } from './flow-bytes.js';
export { Tracker, DEFAULT_TIMEOUTS, type TrackerOptions, type ConnectionTimeouts, type TrackerStats, type RuleHit, type RuleHitText, type TrackedConnection, type ConnectionState } from './packets/tracker.js';
export { PacketBatch, createPacketBatch, type PacketBatchInput, type PacketInput } from './packets/batch.js';
export { PacketVerdicts, PACKET_REASONS, type PacketVerdict, type PacketReason } from './packets/verdicts.js';
export { parseConfig, safeParseConfig, safeParseConfigDocuments, parseConfigText, type ParseResult, type PolicyDocumentSource } from './config/parse.js';
export { loadConfigFile, safeLoadConfigFile, type ConfigFileOptions } from './node/config-file.js';
export type { ConfigFormat } from './node/config-bytes.js';
export { referenceClassify, referenceExplain, type Explanation } from './reference.js';
export {
  lintPolicy, LINT_KINDS, LINT_SEVERITIES, LINT_PROFILES, DEFAULT_ADMIN_PORTS,
  type LintOptions, type LintReport, type LintFinding, type LintKind, type LintSeverity, type RulePosition, type CloudLimits,
} from './analysis/lint.js';
export { diffPolicies, type DiffOptions, type PolicyDiff, type VerdictChange } from './analysis/diff.js';
export type { BoxText } from './analysis/points.js';
export type { AnalysisOptions } from './analysis/options.js';
export { MAX_ANALYSIS_WORK, MAX_REGION_BOXES } from './analysis/walk.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef, type TableStats } from './compile/index.js';
export { MAX_MEMORY_BYTES } from './wasm/load.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from './errors.js';
export type {
  Direction, Action, CaseVariants, TitleCase, DirectionInput, ProtocolName, ProtocolInput, PresetName, PresetLabel, PresetInput, TemplateName, TemplateInput, ActionInput,
  ConfigInput, SecurityGroupInput, InstanceInput, RuleInput, RuleSpec, TerraformLiteRule, TencentPolicyDocument, TencentPolicySet, TencentPolicy,
  Config, SecurityGroup, Instance, Rule, ProtocolMatch, AddressSet, AddressRange, Interval, Warning,
  AddressSetInput, ServiceSetInput, ConfigPartInput, PolicyDocument, TencentTemplateDocument, TencentTemplateList, TencentAddressTemplate, TencentAddressTemplateGroup,
  TencentServiceTemplate, TencentServiceTemplateGroup, AwsSecurityGroupsDocument, AwsSecurityGroup, AwsIpPermission, AwsIpRange, AwsIpv6Range, AwsUserIdGroupPair,
  NamedAddressSet, NamedServiceSet, Service,
  FlowInput, ParsedFlow, FlowAddress, Verdict,
} from './types.js';
export { parseClassBench, parseClassBenchTrace, CLASSBENCH_GROUP_ID } from './classbench.js';
export {
  guardServer, guardedConnect, guardedAgent, guardedDispatcher, startProxy, ConnectionDroppedError,
  type ServerGuard, type ServerGuardOptions, type InboundDecision, type GuardedConnect, type EgressOptions, type OutboundDecision,
  type AddressVerdict, type LookupFunction, type GuardedAgent, type GuardedAgentOptions, type GuardedDispatcher, type GuardedDispatcherOptions,
  type FilteringProxy, type ProxyOptions, type HostPort, type GuardStats, type RuleCounters,
  compileInWorker, reloadInWorker, closeCompileWorker, createClassifierPool,
  type CompileInWorkerOptions, type ClassifierPool, type ClassifierPoolOptions, type PoolResult,
} from './node/index.js';
export {
  createRequestGuard, expressGuard, fastifyGuard, honoGuard,
  type RequestGuard, type RequestGuardOptions, type RequestDecision, type RequestFacts, type DropResponse, type TrustProxy,
  type ExpressGuard, type FastifyGuardOptions, type FastifyGuardPlugin, type HonoGuard,
} from './http/index.js';
export {
  encodeSnapshot, decodeSnapshot, verifySnapshot, signSnapshot, parseSnapshotKey, SNAPSHOT_FORMAT, SNAPSHOT_KEY_MIN_BYTES,
  type DecodedSnapshot, type SnapshotKey, type SnapshotCryptoKey,
} from './snapshot.js';
export * from './capture/index.js';
export {
  openCaptureFile, createCaptureFileWriter, captureFormatOf, CaptureWriteStream,
  type OpenCaptureOptions, type CaptureFileWriterOptions,
} from './node/capture-file.js';
export { PolicySource, type PolicySourceOptions, type PolicySourceStatus, type ActivePolicy, type PolicyEvent, type WaitUntilContext } from './distribution/source.js';
export type { KvNamespaceLike, R2BucketLike, R2ObjectBodyLike, FetchLike } from './distribution/stores.js';
export { policyKeys, parsePolicyPointer, encodePolicyPointer, DEFAULT_POLICY_PREFIX, type PolicyPointer, type PolicyKeys } from './distribution/layout.js';
export { publishPolicy, type PolicyWriter, type PublishOptions, type PublishResult } from './distribution/publish.js';
