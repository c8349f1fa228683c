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
import { checkEngineOptions } from '../options.js';
import type { Config, ConfigInput } from '../types.js';
import { PolicySource, type PolicySourceOptions } from '../distribution/source.js';

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
 * with `fileName: '*.yaml'`). With `{ snapshot, key }` the snapshot must be signed
 * with that key (HMAC-SHA-256, verified through WebCrypto before anything else is
 * read), and so must every snapshot the engine loads later: what a worker that reads
 * its policy from KV or R2 wants. Rejects with an SgfilterError (CONFIG_INVALID,
 * SNAPSHOT_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY, WASM_LOAD) on
 * bad input.
 */
export async function createEngine(config: ConfigInput | Config | SnapshotSource | string | object, options: EdgeEngineOptions = {}): Promise<Engine> {
  checkEngineOptions(options);
  const cfg = typeof config === 'string' ? parseConfigText(config, options.fileName) : config;
  return Engine.create(options.wasm ?? wasmModule, cfg, options);
}

/**
 * A policy source for workers: the policy of this isolate, read from a Workers KV
 * namespace (or R2, or a URL) where `sgfilter publish` puts signed snapshots,
 * verified with `key`, cached per isolate and checked for a new version at most every
 * `refreshSeconds` in the background. Throws INVALID_ARGUMENT or SNAPSHOT_KEY on bad
 * options (a missing key secret included). See src/distribution/source.ts and the
 * README's "Across the edge".
 */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  return new PolicySource(options, (source, engineOptions) => createEngine(source, engineOptions));
}

export { Engine, type EngineOptions, type ReloadOptions, type PolicyChange, type PolicyUpdate, type SnapshotSource, type SnapshotOptions, type LoadSnapshotOptions } from '../engine.js';
export { PolicyTransaction, type PolicyEdit, type AppliedEdit, type EditOp, type RuleSpec } from '../policy/transaction.js';
export { FlowBatch, createFlowBatch, parseFlow } from '../flow.js';
export { parseConfig, safeParseConfig, parseConfigText, type ParseResult } from '../config/parse.js';
export { referenceClassify, referenceExplain, type Explanation } from '../reference.js';
export { compilePolicy, type CompiledPolicy, type CompileOptions, type RuleRef } from '../compile/index.js';
export { SgfilterError, ErrorCodes, IssueCodes, formatPath, type Issue, type ErrorCode, type IssueCode, type Path } from '../errors.js';
export type * from '../types.js';
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
