/**
 * createEngine's shared body (Node entry, edge entry, edge-in-Node entry): checks the
 * options, reads the policy source (src/config/source.ts) and creates the engine with
 * the matcher each entry provides. No `node:` imports: a `{ file }` source is read by
 * the `loadFile` the Node entry passes; the edge entries pass none and refuse it.
 */
import { Engine, type EngineOptions, type SnapshotSource } from './engine.js';
import { SgfilterError } from './errors.js';
import { quote } from './config/plain.js';
import { checkEngineOptions } from './options.js';
import { sourceKind, textSourceDocument, type ConfigFileSource, type ConfigTextSource } from './config/source.js';
import type { WasmSource } from './wasm/load.js';
import type { Config, PolicyDocument } from './types.js';

/** What createEngine takes: a config (object, text or file), the documents that together make one policy (a list, SPEC §9), or a compiled snapshot. */
export type EngineSource = PolicyDocument | readonly PolicyDocument[] | Config | ConfigTextSource | ConfigFileSource | SnapshotSource;

/**
 * `defaultWasm` gives the entry's matcher when `options.wasm` does not; `loadFile`
 * reads a `{ file }` source (null: this entry has no files).
 */
export async function createEngineFrom(
  source: unknown,
  options: EngineOptions & { wasm?: WasmSource },
  defaultWasm: () => WasmSource | PromiseLike<WasmSource>,
  loadFile: ((path: string, format: 'json' | 'yaml' | undefined) => Promise<Config>) | null,
): Promise<Engine> {
  checkEngineOptions(options);
  const wasm = options?.wasm ?? defaultWasm();
  const s = sourceKind(source, 'createEngine');
  let config: unknown;
  if (s.kind === 'text') config = textSourceDocument(s, 'createEngine');
  else if (s.kind === 'object') config = s.value;
  else if (loadFile) config = await loadFile(s.path, s.format);
  else {
    throw new SgfilterError('INVALID_ARGUMENT', `createEngine({ file: ${quote(s.path, 200)} }): this build has no file system; pass the config text ({ text }), a config object or a snapshot ({ snapshot })`);
  }
  return Engine.create(wasm, config, options);
}
