/**
 * The API the edge entries share (src/edge/index.ts for workerd and bundlers,
 * src/edge/node.ts for Node): everything of the Node entry except what needs Node
 * (config files, socket guards, watchConfig, worker threads). createEngine is each
 * entry's own: it differs only in where the matcher comes from. No `node:` imports.
 */
import type { EngineOptions } from '../engine.js';

export interface EdgeEngineOptions extends EngineOptions {
  /** A matcher module to use instead of the bundled one (it must be a WebAssembly.Module on workerd). */
  wasm?: WebAssembly.Module;
}

export type { EngineSource } from '../create.js';
export type { ConfigTextSource } from '../config/source.js';
export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type UpdatePreview, type SnapshotSource, type SnapshotOptions, type LoadSnapshotOptions } from '../engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type CommittedEdits } from '../policy/transaction.js';
export { FlowBatch, createFlowBatch, parseFlow } from '../flow.js';
export { createFlowBatchFromBytes, type FlowBytes } from '../flow-bytes.js';
export { Tracker, DEFAULT_TIMEOUTS, type TrackerOptions, type ConnectionTimeouts, type TrackerStats, type RuleHit, type TrackedConnection, type ConnectionState } from '../packets/tracker.js';
export { PacketBatch, createPacketBatch, type PacketBatchInput, type PacketInput } from '../packets/batch.js';
export { PacketVerdicts, PACKET_REASONS, type PacketVerdict, type PacketReason } from '../packets/verdicts.js';
export { parseConfig, safeParseConfig, safeParseConfigDocuments, parseConfigText, type ParseResult, type PolicyDocumentSource } from '../config/parse.js';
export { referenceClassify, referenceExplain, type Explanation } from '../reference.js';
export {
  lintPolicy, LINT_KINDS, LINT_SEVERITIES, LINT_PROFILES, DEFAULT_ADMIN_PORTS,
  type LintOptions, type LintReport, type LintFinding, type LintKind, type LintSeverity, type RulePosition, type CloudLimits,
} from '../analysis/lint.js';
export { diffPolicies, type DiffOptions, type PolicyDiff, type VerdictChange } from '../analysis/diff.js';
export type { BoxText } from '../analysis/points.js';
export type { AnalysisOptions } from '../analysis/options.js';
export { MAX_ANALYSIS_WORK, MAX_REGION_BOXES } from '../analysis/walk.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef, type TableStats } from '../compile/index.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from '../errors.js';
export type {
  Direction, Action, CaseVariants, TitleCase, DirectionInput, ProtocolName, ProtocolInput, PresetName, PresetLabel, PresetInput, TemplateName, TemplateInput, ActionInput,
  ConfigInput, SecurityGroupInput, InstanceInput, RuleInput, RuleSpec, TerraformLiteRule, TencentPolicyDocument, TencentPolicySet, TencentPolicy,
  Config, SecurityGroup, Instance, Rule, ProtocolMatch, AddressSet, AddressRange, Interval, Warning,
  FlowInput, ParsedFlow, FlowAddress, Verdict,
} from '../types.js';
export { parseClassBench, parseClassBenchTrace, CLASSBENCH_GROUP_ID } from '../classbench.js';
export {
  encodeSnapshot, decodeSnapshot, verifySnapshot, signSnapshot, parseSnapshotKey, SNAPSHOT_FORMAT, SNAPSHOT_KEY_MIN_BYTES,
  type DecodedSnapshot, type SnapshotKey, type SnapshotCryptoKey,
} from '../snapshot.js';
export * from '../capture/index.js';
export { PolicySource, type PolicySourceOptions, type PolicySourceStatus, type ActivePolicy, type PolicyEvent, type WaitUntilContext } from '../distribution/source.js';
export type { KvNamespaceLike, R2BucketLike, R2ObjectBodyLike, FetchLike } from '../distribution/stores.js';
export { policyKeys, parsePolicyPointer, encodePolicyPointer, DEFAULT_POLICY_PREFIX, type PolicyPointer, type PolicyKeys } from '../distribution/layout.js';
export { publishPolicy, type PolicyWriter, type PublishOptions, type PublishResult } from '../distribution/publish.js';
