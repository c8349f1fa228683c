#!/usr/bin/env node
// The package.json that goes into the tarball has no `prepare` script.
//
// `prepare` builds the clone on `npm ci` / `npm install` and builds a git install
// (npm runs only `prepare` for those). A tarball is already built, and npm warns
// about every dependency that carries an install-time script ("1 package has install
// scripts not yet covered by allowScripts"), pointing here at scripts/start.mjs,
// which the tarball does not even ship. So `prepack` runs `strip` (after building)
// and `postpack` runs `restore`:
//   strip    keeps package.json as .package.json.unpacked and writes it without
//            scripts.prepare (same formatting)
//   restore  puts .package.json.unpacked back, with its own modification time (the
//            build's staleness check in start.mjs compares it); a no-op without it,
//            so it is safe to run again after an interrupted pack.
// Only node: built-ins.
import { existsSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const manifest = join(root, 'package.json');
const kept = join(root, '.package.json.unpacked');

function restore() {
  if (!existsSync(kept)) return;
  const { atimeMs, mtimeMs } = statSync(kept);
  renameSync(kept, manifest);
  utimesSync(manifest, atimeMs / 1000, mtimeMs / 1000);
}

const mode = process.argv[2];
if (mode === 'strip') {
  restore(); // a leftover from an interrupted pack is the real manifest
  const text = readFileSync(manifest, 'utf8');
  const { atimeMs, mtimeMs } = statSync(manifest);
  const pkg = JSON.parse(text);
  writeFileSync(kept, text);
  utimesSync(kept, atimeMs / 1000, mtimeMs / 1000);
  if (pkg.scripts) delete pkg.scripts.prepare;
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
} else if (mode === 'restore') {
  restore();
} else {
  console.error('usage: node scripts/packed-manifest.mjs strip|restore');
  process.exit(2);
}
