/**
 * sgfilter — cloud security-group semantics as a fast WebAssembly packet filter.
 * This is the one public surface (Node build). See README.md and docs/DESIGN.md.
 */
import { Engine, type EngineOptions } from './engine.js';
import { checkEngineOptions } from './options.js';
import { nodeWasmBytes } from './wasm/node.js';
import { loadConfigFile } from './node/config-file.js';
import type { Config, ConfigInput } from './types.js';

/**
 * Creates an engine for `config`: a config object (native, Tencent API JSON), an
 * already-validated Config, or (Node) the path of a JSON/YAML file.
 * Rejects with an SgfilterError (CONFIG_INVALID, with every issue) on bad input.
 */
export async function createEngine(config: ConfigInput | Config | string | object, options: EngineOptions & { wasm?: WebAssembly.Module | Uint8Array } = {}): Promise<Engine> {
  checkEngineOptions(options);
  const cfg = typeof config === 'string' ? await loadConfigFile(config) : config;
  return Engine.create(options.wasm ?? (await nodeWasmBytes()), cfg, options);
}

export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type SnapshotSource } from './engine.js';
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
  createRequestGuard, expressGuard, fastifyGuard, honoGuard,
  type RequestGuard, type RequestGuardOptions, type RequestDecision, type RequestFacts, type DropResponse, type TrustProxy,
  type ExpressGuard, type FastifyGuardOptions, type FastifyGuardPlugin, type HonoGuard,
} from './http/index.js';
export { encodeSnapshot, decodeSnapshot, SNAPSHOT_FORMAT, type DecodedSnapshot } from './snapshot.js';
export * from './capture/index.js';
export {
  openCaptureFile, createCaptureFileWriter, captureFormatOf, CaptureWriteStream,
  type OpenCaptureOptions, type CaptureFileWriterOptions,
} from './node/capture-file.js';
