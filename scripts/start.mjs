#!/usr/bin/env node
// `npm start`: make a fresh clone runnable, then run the demo (`sgfilter demo`).
//   1. no node_modules (or missing tools)      -> npm ci
//   2. build outputs missing or older than any source in assembly/ or src/ -> npm run build
//   3. node dist/src/cli.js demo [extra args...]
// With --build-only (the prepare and prepack scripts: npm pack, npm publish, installs
// from git), steps 1 and 2 only: the package is built when it is packed.
// Only node: built-ins, so it works before any dependency is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) {
    console.error(`start: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 1;
}

function step(what, cmd, args) {
  console.error(`start: ${what}: ${cmd} ${args.join(' ')}`);
  const status = run(cmd, args);
  if (status !== 0) {
    console.error(`start: ${cmd} ${args.join(' ')} failed (exit ${status})`);
    process.exit(status);
  }
}

/** Newest modification time (ms) of the files under `dir`, recursively; 0 when absent. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

const buildOnly = process.argv.includes('--build-only');

// 1. Dependencies. (Under npm's own install, which is running the prepare script,
// they are being installed already.)
const needed = ['commander', 'yaml', 'typescript', 'assemblyscript'];
if (!existsSync(join(root, 'node_modules')) || needed.some((m) => !existsSync(join(root, 'node_modules', m)))) {
  if (buildOnly) {
    console.error('prepare: the build tools (typescript, assemblyscript) are not installed: run npm ci first');
    process.exit(1);
  }
  step('installing dependencies', npm, ['ci']);
}

// 2. Build, when an output is missing or stale.
const outputs = [join(root, 'build', 'sgfilter.wasm'), join(root, 'dist', 'src', 'cli.js')];
const oldestOutput = Math.min(...outputs.map(mtime));
const sources = Math.max(
  newest(join(root, 'assembly')),
  newest(join(root, 'src')),
  ...['package.json', 'asconfig.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => mtime(join(root, f))),
);
if (oldestOutput === 0 || oldestOutput < sources) step('building', npm, ['run', 'build']);

// 3. The demo.
if (buildOnly) process.exit(0);
process.exit(run(process.execPath, [join(root, 'dist', 'src', 'cli.js'), 'demo', ...process.argv.slice(2)]));
