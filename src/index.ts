/**
 * sgfilter — cloud security-group semantics as a fast WebAssembly packet filter.
 * This is the one public surface (Node build). See README.md and docs/DESIGN.md.
 */
import { Engine, type EngineOptions } from './engine.js';
import { checkEngineOptions } from './options.js';
import { nodeWasmBytes } from './wasm/node.js';
import { loadConfigFile } from './node/config-file.js';
import type { Config, ConfigInput } from './types.js';
import { PolicySource, type PolicySourceOptions } from './distribution/source.js';

/**
 * Creates an engine for `config`: a config object (native, Tencent API JSON), an
 * already-validated Config, (Node) the path of a JSON/YAML file, or a compiled-policy
 * snapshot `{ snapshot, key? }` (with a key, it and every later loadSnapshot must be
 * signed with it). Rejects with an SgfilterError (CONFIG_INVALID, with every issue;
 * SNAPSHOT_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY) on bad input.
 */
export async function createEngine(config: ConfigInput | Config | string | object, options: EngineOptions & { wasm?: WebAssembly.Module | Uint8Array } = {}): Promise<Engine> {
  checkEngineOptions(options);
  const cfg = typeof config === 'string' ? await loadConfigFile(config) : config;
  return Engine.create(options.wasm ?? nodeWasmBytes(), cfg, options);
}

/**
 * A policy source (the edge entry's, for Node too): the policy read from a Workers KV
 * namespace binding, an R2 binding or a URL where `sgfilter publish` puts signed
 * snapshots, verified with `key`, refreshed at most every `refreshSeconds`.
 */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  return new PolicySource(options, (source, engineOptions) => createEngine(source, engineOptions));
}

export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type SnapshotSource, type SnapshotOptions, type LoadSnapshotOptions } from './engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type RuleSpec } from './policy/transaction.js';
export { watchConfig, type WatchOptions, type ConfigWatcher } from './node/watch.js';
export { FlowBatch, createFlowBatch, parseFlow } from './flow.js';
export { parseConfig, safeParseConfig, parseConfigText, type ParseResult } from './config/parse.js';
export { loadConfigFile, safeLoadConfigFile } from './node/config-file.js';
export { referenceClassify, referenceExplain, type Explanation } from './reference.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef } from './compile/index.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from './errors.js';
export type * from './types.js';
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
export { PolicySource, type PolicySourceOptions, type PolicySourceStatus, type ActivePolicy, type PolicyEvent, type WaitUntilContext } from './distribution/source.js';
export type { KvNamespaceLike, R2BucketLike, R2ObjectBodyLike, FetchLike } from './distribution/stores.js';
export { policyKeys, parsePolicyPointer, encodePolicyPointer, DEFAULT_POLICY_PREFIX, type PolicyPointer, type PolicyKeys } from './distribution/layout.js';
export { publishPolicy, type PolicyWriter, type PublishOptions, type PublishResult } from './distribution/publish.js';
