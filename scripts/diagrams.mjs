#!/usr/bin/env node
/**
 * Renders every docs/diagrams/*.dot to the SVG beside it with Graphviz compiled to
 * WebAssembly (@viz-js/viz: no native Graphviz needed). `--check` renders in memory
 * and exits 1 when a committed SVG is missing or differs (test/docs-diagrams.test.ts).
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { instance } from '@viz-js/viz';

const DIR = fileURLToPath(new URL('../docs/diagrams/', import.meta.url));
const BANNER = (name) => `<!-- Generated from ${name} by scripts/diagrams.mjs (npm run docs:diagrams); do not edit. -->\n`;

/** The SVG for one .dot file, with the generated-file banner after the XML declaration. */
export async function render(name) {
  const viz = await instance();
  const svg = viz.renderString(readFileSync(DIR + name, 'utf8'), { format: 'svg', engine: 'dot' });
  const at = svg.indexOf('?>') + 2;
  return `${svg.slice(0, at)}\n${BANNER(name)}${svg.slice(at).replace(/^\n/, '')}`;
}

const check = process.argv.includes('--check');
let stale = 0;
for (const name of readdirSync(DIR).filter((f) => f.endsWith('.dot')).sort()) {
  const out = DIR + name.replace(/\.dot$/, '.svg');
  const svg = await render(name);
  if (check) {
    if (!existsSync(out) || readFileSync(out, 'utf8') !== svg) {
      console.error(`${out} is not current: run npm run docs:diagrams`);
      stale++;
    }
  } else {
    writeFileSync(out, svg);
    console.log(`wrote ${out}`);
  }
}
process.exitCode = stale ? 1 : 0;
