/**
 * Test helper: bundles a worker the way `wrangler deploy` does — esbuild with the
 * workerd export conditions, `sgfilter` resolved as an installed package (through
 * package.json "exports"), and `.wasm` / `.bin` imports left as separate modules
 * (CompiledWasm / Data), named by their file name next to the bundle.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WORKER_CONDITIONS = ['workerd', 'worker', 'browser'];

export interface WorkerBundle {
  /** The bundled worker (ES module). */
  code: string;
  /** Modules the bundle imports by name: name → absolute path of the file it came from. */
  modules: Map<string, string>;
  metafile: esbuild.Metafile;
}

export async function bundleWorker(entry: string, options: { minify?: boolean } = {}): Promise<WorkerBundle> {
  // node_modules/sgfilter → this package, as after `npm install sgfilter`.
  const nm = mkdtempSync(join(tmpdir(), 'sgfilter-nm-'));
  try {
    symlinkSync(ROOT, join(nm, 'sgfilter'), 'dir');
    const modules = new Map<string, string>();
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      platform: 'neutral',
      conditions: WORKER_CONDITIONS,
      mainFields: ['browser', 'module', 'main'],
      nodePaths: [nm],
      metafile: true,
      minify: options.minify ?? false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'module-rules',
          setup(build) {
            build.onResolve({ filter: /\.(wasm|bin)$/ }, (args) => {
              const path = resolve(args.resolveDir, args.path);
              modules.set(basename(path), path);
              return { path: `./${basename(path)}`, external: true };
            });
          },
        },
      ],
    });
    return { code: result.outputFiles[0]!.text, modules, metafile: result.metafile };
  } finally {
    rmSync(nm, { recursive: true, force: true });
  }
}
