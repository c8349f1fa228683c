/**
 * sgfilter — cloud security-group semantics as a fast WebAssembly packet filter.
 * This is the one public surface (Node build). See README.md and docs/DESIGN.md.
 */
import type { Engine, EngineOptions } from './engine.js';
import { createEngineFrom, type PolicySource } from './create.js';
import { nodeWasmBytes } from './wasm/node.js';
import { loadConfigFile } from './node/config-file.js';

/**
 * Creates an engine for a policy source:
 *   - a config object (native, or a Tencent API policy document), or a validated Config;
 *   - `{ file: 'policy.yaml' }`: a JSON or YAML config file (format by extension);
 *   - `{ text, format? }`: config text ('json', the default, or 'yaml');
 *   - `{ snapshot, key? }`: a compiled snapshot (engine.snapshot(), `sgfilter compile`);
 *     with a key, it and every later loadSnapshot must be signed with it.
 * A bare string is refused (INVALID_ARGUMENT): say whether it is a file or text.
 * Rejects with an SgfilterError on bad input: CONFIG_INVALID (every issue),
 * CONFIG_PARSE, SNAPSHOT_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY,
 * INVALID_ARGUMENT.
 */
export async function createEngine(source: PolicySource, options: EngineOptions & { wasm?: WebAssembly.Module | Uint8Array } = {}): Promise<Engine> {
  return createEngineFrom(source, options, nodeWasmBytes, loadConfigFile);
}

export type { PolicySource } from './create.js';
export type { ConfigTextSource, ConfigFileSource } from './config/source.js';
export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type SnapshotSource, type SnapshotOptions, type LoadSnapshotOptions } from './engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type CommittedEdits } from './policy/transaction.js';
export { watchConfig, type WatchOptions, type ConfigWatcher } from './node/watch.js';
export { FlowBatch, createFlowBatch, parseFlow } from './flow.js';
export { parseConfig, safeParseConfig, parseConfigText, type ParseResult } from './config/parse.js';
export { loadConfigFile, safeLoadConfigFile } from './node/config-file.js';
export { referenceClassify, referenceExplain, type Explanation } from './reference.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef, type TableStats } from './compile/index.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from './errors.js';
export type {
  Direction, Action, CaseVariants, TitleCase, DirectionInput, ProtocolName, ProtocolInput, PresetName, PresetLabel, PresetInput, TemplateName, TemplateInput, ActionInput,
  ConfigInput, SecurityGroupInput, InstanceInput, RuleInput, RuleSpec, TerraformLiteRule, TencentPolicyDocument, TencentPolicySet, TencentPolicy,
  Config, SecurityGroup, Instance, Rule, ProtocolMatch, AddressSet, AddressRange, Interval, Warning,
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
  encodeSnapshot, decodeSnapshot, verifySnapshot, signSnapshot, parseSnapshotKey, SNAPSHOT_FORMAT, SNAPSHOT_KEY_MIN_BYTES,
  type DecodedSnapshot, type SnapshotKey, type SnapshotCryptoKey,
} from './snapshot.js';
export * from './capture/index.js';
export {
  openCaptureFile, createCaptureFileWriter, captureFormatOf, CaptureWriteStream,
  type OpenCaptureOptions, type CaptureFileWriterOptions,
} from './node/capture-file.js';
