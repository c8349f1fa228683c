/**
 * sgfilter for edge workers (workerd / Cloudflare Workers, and other runtimes
 * whose bundler turns a `.wasm` import into a WebAssembly.Module). The same engine
 * and API as the Node entry (src/index.ts) minus what needs Node (config files,
 * socket guards, watchConfig).
 *
 * Edge runtimes refuse to compile WASM from bytes ("Wasm code generation disallowed
 * by embedder"), so the matcher is imported as a module: workerd/wrangler give a
 * compiled WebAssembly.Module for `import m from './x.wasm'` (a CompiledWasm module).
 * Nothing in this file's import graph imports `node:` (test/edge-graph.test.ts).
 *
 * The path is written relative to the built file (dist/src/edge/index.js →
 * build/sgfilter.wasm at the package root).
 */
import wasmModule from '../../../build/sgfilter.wasm';
import { Engine, type EngineOptions, type SnapshotSource } from '../engine.js';
import { parseConfigText } from '../config/parse.js';
import type { Config, ConfigInput } from '../types.js';

export interface EdgeEngineOptions extends EngineOptions {
  /** A matcher module to use instead of the bundled one (it must be a WebAssembly.Module on workerd). */
  wasm?: WebAssembly.Module;
  /** With a string config: its format by file name ("policy.yaml" → YAML); default JSON. */
  fileName?: string;
}

/**
 * Creates an engine from a config object (native, Tencent API JSON), a validated
 * Config, a compiled-policy snapshot (`{ snapshot: bytes }`, from `engine.snapshot()`
 * or `sgfilter compile`: no compiling at start-up), or config text (JSON, or YAML
 * with `fileName: '*.yaml'`). Rejects with an SgfilterError (CONFIG_INVALID,
 * SNAPSHOT_INVALID, WASM_LOAD) on bad input.
 */
export async function createEngine(config: ConfigInput | Config | SnapshotSource | string | object, options: EdgeEngineOptions = {}): Promise<Engine> {
  const cfg = typeof config === 'string' ? parseConfigText(config, options.fileName) : config;
  return Engine.create(options.wasm ?? wasmModule, cfg, options);
}

export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type SnapshotSource } from '../engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type RuleSpec } from '../policy/transaction.js';
export { FlowBatch, createFlowBatch, parseFlow } from '../flow.js';
export { Tracker, DEFAULT_TIMEOUTS, type TrackerOptions, type ConnectionTimeouts, type TrackerStats, type RuleHit, type TrackedConnection, type ConnectionState } from '../packets/tracker.js';
export { PacketBatch, createPacketBatch, type PacketBatchInput, type PacketInput } from '../packets/batch.js';
export { PacketVerdicts, PACKET_REASONS, type PacketVerdict, type PacketReason } from '../packets/verdicts.js';
export { parseConfig, safeParseConfig, parseConfigText, type ParseResult } from '../config/parse.js';
export { referenceClassify, referenceExplain, type Explanation } from '../reference.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef } from '../compile/index.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from '../errors.js';
export type * from '../types.js';
export { parseClassBench, parseClassBenchTrace, CLASSBENCH_GROUP_ID } from '../classbench.js';
export { encodeSnapshot, decodeSnapshot, SNAPSHOT_FORMAT, type DecodedSnapshot } from '../snapshot.js';
