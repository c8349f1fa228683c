// The edge entry (dist/src/edge/index.js) must load in workerd: no `node:` import
// anywhere in its import graph, the .wasm reachable by its relative path, and the
// package.json "exports" conditions pointing workers at it.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, WORKER_CONDITIONS, bundleWorker } from './edge-bundle.js';

const EDGE_ENTRY = join(ROOT, 'dist/src/edge/index.js');
const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every file reachable from `entry` by relative imports, and every non-relative specifier met. */
function walk(entry: string): { files: Map<string, number>; external: Map<string, string[]> } {
  const files = new Map<string, number>();
  const external = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    files.set(file, Buffer.byteLength(text));
    if (!file.endsWith('.js')) continue;
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of code.matchAll(IMPORT_RE)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) todo.push(resolve(dirname(file), spec));
      else external.set(spec, [...(external.get(spec) ?? []), relative(ROOT, file)]);
    }
  }
  return { files, external };
}

describe('edge entry', () => {
  it('imports nothing from node: in its dist import graph (bundled dependencies included)', async () => {
    expect(existsSync(EDGE_ENTRY), 'run npm run build first').toBe(true);
    const { files, external } = walk(EDGE_ENTRY);
    const nodeImports = [...external].filter(([spec]) => spec.startsWith('node:') || ['fs', 'path', 'os', 'url', 'net', 'crypto', 'worker_threads', 'fs/promises'].includes(spec));
    expect(nodeImports).toEqual([]);
    // The only packages: the config parsers' (bundled by wrangler with the worker conditions).
    expect([...external.keys()].sort()).toEqual(['ipaddr.js', 'jsonc-parser', 'yaml']);
    expect([...files.keys()].map((f) => relative(ROOT, f))).toContain('build/sgfilter.wasm');
    expect([...files.keys()].filter((f) => /src[/\\](node|cli|index)\b/.test(relative(ROOT, f)))).toEqual([]);

    // Dependencies too, resolved as wrangler does (esbuild, platform neutral: a node
    // builtin anywhere would fail to resolve). The bundle's inputs name no node: module.
    const bundle = await bundleWorker(EDGE_ENTRY);
    const inputs = Object.entries(bundle.metafile.inputs);
    for (const [, input] of inputs) for (const imp of input.imports) expect(imp.path).not.toMatch(/^node:/);
    expect([...bundle.modules.values()]).toEqual([join(ROOT, 'build/sgfilter.wasm')]);

    const wasm = readFileSync(join(ROOT, 'build/sgfilter.wasm'));
    const distBytes = [...files].filter(([f]) => f.endsWith('.js')).reduce((n, [, b]) => n + b, 0);
    const min = await bundleWorker(EDGE_ENTRY, { minify: true });
    console.log(
      `[edge size] dist graph: ${files.size - 1} files, ${distBytes} bytes JS + ${wasm.length} bytes wasm; ` +
        `bundle (with yaml, jsonc-parser, ipaddr.js): ${bundle.code.length} bytes, gzip ${gzipSync(bundle.code).length}; ` +
        `minified ${min.code.length} bytes, gzip ${gzipSync(min.code).length}; wasm gzip ${gzipSync(wasm).length}; ` +
        `total minified+wasm gzip ${gzipSync(min.code).length + gzipSync(wasm).length}`,
    );
  });

  it('is what package.json "exports" gives the worker conditions; Node keeps the Node entry', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const dot = pkg.exports['.'];
    for (const c of WORKER_CONDITIONS) expect(dot[c]).toEqual({ types: './dist/src/edge/index.d.ts', default: './dist/src/edge/index.js' });
    const keys = Object.keys(dot);
    // Conditions match in order: the worker ones must come before every condition Node matches (node, require, default).
    const nodeFirst = Math.min(...['node', 'require', 'default'].map((c) => keys.indexOf(c)).filter((i) => i >= 0));
    expect(Math.max(...WORKER_CONDITIONS.map((c) => keys.indexOf(c)))).toBeLessThan(nodeFirst);
    expect(dot.default).toBe('./dist/src/index.js');
    expect(pkg.files).toContain('build/sgfilter.wasm');
    const node = await import('sgfilter');
    expect(typeof node.guardServer).toBe('function');
    // sgfilter/edge: the workers entry for worker conditions, a Node build of it under node.
    for (const c of WORKER_CONDITIONS) expect(pkg.exports['./edge'][c]).toEqual(dot.workerd);
    const edgeKeys = Object.keys(pkg.exports['./edge']);
    expect(Math.max(...WORKER_CONDITIONS.map((c) => edgeKeys.indexOf(c)))).toBeLessThan(edgeKeys.indexOf('node'));
  });
});
