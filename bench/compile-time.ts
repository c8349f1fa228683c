/**
 * Compile time of ClassBench sets, in one process: per set, parse then compilePolicy
 * `runs` times; wall and CPU (user + system) per run, medians, the peak RSS of the
 * process so far, and a SHA-256 of the table (so a change to the compiler can be
 * checked byte for byte against the table it made before).
 *
 *   npx tsx bench/compile-time.ts [--runs N] [set ...]    default: the 100K sets, 5 runs
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { compilePolicy, parseClassBench } from '../src/index.js';
import { CLASSBENCH_100K_DIR, CLASSBENCH_DIR, fmtBytes } from './lib.js';

const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 5;
const sets = argv.filter((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1));
const read = (file: string) => (existsSync(`${CLASSBENCH_DIR}${file}`) ? readFileSync(`${CLASSBENCH_DIR}${file}`, 'utf8') : gunzipSync(readFileSync(`${CLASSBENCH_100K_DIR}${file}.gz`)).toString('utf8'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

for (const set of sets.length ? sets : ['acl2_100K', 'fw3_100K', 'ipc2_100K']) {
  const text = read(set);
  const w0 = performance.now();
  const c0 = cpuMs();
  const config = parseClassBench(text);
  const parse = { wall: performance.now() - w0, cpu: cpuMs() - c0 };
  const wall: number[] = [];
  const cpu: number[] = [];
  let hash = '';
  let total = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const u0 = cpuMs();
    const compiled = compilePolicy(config);
    cpu.push(cpuMs() - u0);
    wall.push(performance.now() - t0);
    if (r === 0) {
      hash = createHash('sha256').update(compiled.bytes).digest('hex').slice(0, 16);
      total = compiled.bytes.length;
    }
  }
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `${set.padEnd(10)} parse ${parse.wall.toFixed(0).padStart(5)} ms wall ${parse.cpu.toFixed(0).padStart(5)} ms CPU | compile median ${median(wall).toFixed(0).padStart(5)} ms wall ${median(cpu).toFixed(0).padStart(5)} ms CPU (runs wall ${wall.map((x) => x.toFixed(0)).join(' ')}) | peak RSS ${fmtBytes(rss)} | table ${fmtBytes(total)} sha256 ${hash}`,
  );
}
