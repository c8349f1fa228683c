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
import type { Engine } from '../engine.js';
import { createEngineFrom, type EngineSource } from '../create.js';
import { PolicySource, type PolicySourceOptions } from '../distribution/source.js';
import type { EdgeEngineOptions } from './surface.js';

/**
 * Creates an engine from a config object (native, Tencent API JSON), a validated
 * Config, config text (`{ text, format? }`: JSON, or YAML with format 'yaml'), or a
 * compiled-policy snapshot (`{ snapshot }`, from `engine.snapshot()` or `sgfilter
 * compile`: no compiling at start-up). With `{ snapshot, key }` the snapshot must be
 * signed with that key (HMAC-SHA-256, verified through WebCrypto before anything else
 * is read), and so must every snapshot the engine loads later: what a worker that
 * reads its policy from KV or R2 wants. There are no files here: `{ file }` and bare
 * strings are INVALID_ARGUMENT. Rejects with an SgfilterError (CONFIG_INVALID,
 * CONFIG_PARSE, SNAPSHOT_INVALID, SNAPSHOT_UNSIGNED, SNAPSHOT_SIGNATURE, SNAPSHOT_KEY,
 * WASM_LOAD) on bad input.
 */
export async function createEngine(source: EngineSource, options: EdgeEngineOptions = {}): Promise<Engine> {
  return createEngineFrom(source, options, () => wasmModule, null);
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

export * from './surface.js';
