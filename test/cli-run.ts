/**
 * Running the built `sgfilter` CLI as users run it (`node dist/src/cli.js ...`,
 * built by the pretest script) for the CLI tests: exit status, stdout, stderr, and
 * on request the peak memory (resident set size) of the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const cliPath = join(root, 'dist', 'src', 'cli.js');
export const seedConfig = join(root, 'examples', 'seed-scenarios.yaml');
export const seedFlows = join(root, 'examples', 'flows.jsonl');
const rssPreload = join(root, 'test', 'fixtures', 'cli', 'max-rss.cjs');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size in MB, when asked for with `rss`. */
  peakMB?: number;
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  /** Measure the run's peak RSS (a preloaded module reports process.resourceUsage().maxRSS at exit). */
  rss?: boolean;
  timeout?: number;
}

export function requireBuild(): void {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does it)`);
}

export function cli(args: string[], opts: RunOptions = {}): Run {
  const rssDir = opts.rss ? mkdtempSync(join(tmpdir(), 'sgfilter-rss-')) : undefined;
  const rssFile = rssDir && join(rssDir, 'rss');
  try {
    const r = spawnSync(process.execPath, [...(rssFile ? ['-r', rssPreload] : []), cliPath, ...args], {
      cwd: opts.cwd ?? root,
      input: opts.input,
      encoding: 'utf8',
      timeout: opts.timeout ?? 60_000,
      maxBuffer: 1 << 28,
      env: { ...process.env, ...(rssFile ? { SGFILTER_TEST_RSS_FILE: rssFile } : {}) },
    });
    if (r.error) throw r.error;
    const run: Run = { status: r.status, stdout: r.stdout, stderr: r.stderr };
    if (rssFile) run.peakMB = Number(readFileSync(rssFile, 'utf8')) / 1024;
    return run;
  } finally {
    if (rssDir) rmSync(rssDir, { recursive: true, force: true });
  }
}

export const nonBlankLines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
