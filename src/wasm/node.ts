// Node only: reads the matcher built by `npm run build:wasm` next to the package.
import { readFile } from 'node:fs/promises';

let bytes: Promise<Uint8Array> | undefined;

/** The compiled matcher's bytes (read once per process). */
export function nodeWasmBytes(): Promise<Uint8Array> {
  bytes ??= readFile(new URL('../../../build/sgfilter.wasm', import.meta.url)).catch(() =>
    readFile(new URL('../../build/sgfilter.wasm', import.meta.url)),
  );
  return bytes;
}
