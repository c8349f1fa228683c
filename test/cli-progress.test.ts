/**
 * Progress bars (cli-progress) on a terminal, nothing off one. The CLI is run on a
 * real pseudo-terminal through util-linux `script` (skipped, saying so, where it is
 * missing), as a person at a terminal runs it: eval, classbench and a large compile
 * and check draw their progress on stderr and clear it at the end; --no-progress,
 * TERM=dumb, eval writing verdicts to the terminal itself, and any run whose stderr
 * is not a terminal draw nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliPath, nonBlankLines, requireBuild, root, seedConfig, seedFlows } from './cli-run.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const onTerminal = hasScript ? describe : describe.skip;
if (!hasScript) {
  describe('progress on a terminal', () => {
    it.skip('skipped: util-linux `script` (which gives the CLI a pseudo-terminal) is not installed', () => {});
  });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `sgfilter ARGS` on a pseudo-terminal (stdin, stdout and stderr all the
 * terminal unless `stdoutTo` sends stdout to a file); returns what the terminal got.
 */
function onTty(args: string[], opts: { stdoutTo?: string; env?: Record<string, string> } = {}): { status: number | null; screen: string } {
  const cmd = [process.execPath, cliPath, ...args].map(quote).join(' ') + (opts.stdoutTo ? ` > ${quote(opts.stdoutTo)}` : '');
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 1 << 26,
    env: { ...process.env, TERM: 'xterm', ...opts.env },
  });
  return { status: r.status, screen: r.stdout };
}

let tmp: string;
let flows: string;
let bigConfig: string;
let filters: string;
let trace: string;

beforeAll(() => {
  requireBuild();
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-cli-progress-'));
  const seed = nonBlankLines(readFileSync(seedFlows, 'utf8'));
  flows = join(tmp, 'flows.jsonl');
  writeFileSync(flows, `${Array.from({ length: 200_000 }, (_, i) => seed[i % seed.length]).join('\n')}\n`);
  // Over 1 MiB: compile and check show their phases for configs this big.
  const rules = Array.from({ length: 20_000 }, (_, i) => `      - { protocol: TCP, port: ${1 + (i % 60_000)}, source: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32, action: accept }`);
  bigConfig = join(tmp, 'big.yaml');
  writeFileSync(bigConfig, ['securityGroups:', '  - id: sg-big', '    inbound:', ...rules, ''].join('\n'));
  filters = join(tmp, 'tiny_filters');
  writeFileSync(filters, '@10.0.0.0/8 0.0.0.0/0 0 : 65535 22 : 22 0x06/0xFF\n@0.0.0.0/0 0.0.0.0/0 0 : 65535 0 : 65535 0x00/0x00\n');
  trace = join(tmp, 'tiny_trace');
  writeFileSync(trace, '167772161 1 1000 22 6 1\n167772161 1 1000 23 6 2\n');
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

onTerminal('progress on a terminal', () => {
  it('eval draws checking and classifying bars on stderr, clears them, and the verdicts are whole', () => {
    const out = join(tmp, 'verdicts.jsonl');
    const r = onTty(['eval', seedConfig, flows, '--summary'], { stdoutTo: out });
    expect(r.status).toBe(0);
    expect(r.screen).toMatch(/eval: checking flows +\d+% \[[=-]+\]/);
    expect(r.screen).toMatch(/eval: classifying +\d+% \[[=-]+\]/);
    expect(r.screen).toMatch(/\d{1,3}(,\d{3})* flows/);
    // Cleared at the end: the summary starts a clean line after the last bar.
    expect(r.screen).toMatch(/\x1b\[2K200000 flows: \d+ accepted/);
    expect(nonBlankLines(readFileSync(out, 'utf8')).length).toBe(200_000);
  });

  it('eval draws nothing with --no-progress, with TERM=dumb, or when the verdicts go to the terminal', () => {
    const out = join(tmp, 'quiet.jsonl');
    for (const run of [
      onTty(['eval', seedConfig, flows, '--no-progress'], { stdoutTo: out }),
      onTty(['eval', seedConfig, flows], { stdoutTo: out, env: { TERM: 'dumb' } }),
      onTty(['eval', seedConfig, seedFlows]),
    ]) {
      expect(run.status).toBe(0);
      expect(run.screen).not.toContain('eval:');
      expect(run.screen).not.toContain('\x1b[');
    }
  });

  it('classbench shows its steps', () => {
    const r = onTty(['classbench', filters, trace]);
    expect(r.status).toBe(0);
    expect(r.screen).toMatch(/classbench: (parsing|compiling 2 rules|timing 2 lookups|comparing)/);
    expect(r.screen).toContain('0 mismatches in 2 checked lines');
    const quiet = onTty(['classbench', filters, trace, '--no-progress']).screen;
    expect(quiet).toContain('0 mismatches in 2 checked lines');
    expect(quiet).not.toMatch(/classbench: (reading|parsing|compiling|timing|comparing)/);
    expect(quiet).not.toContain('\x1b[');
  });

  it('compile and check of a config over 1 MiB show their phases; a small one shows none', () => {
    const c = onTty(['compile', bigConfig, '-o', join(tmp, 'big.bin')]);
    expect(c.status).toBe(0);
    for (const phase of ['reading', 'parsing', 'validating', 'compiling', 'writing the snapshot']) expect(c.screen).toContain(`compile: ${phase}`);
    const k = onTty(['check', bigConfig]);
    expect(k.status).toBe(0);
    expect(k.screen).toContain('check: validating');
    expect(onTty(['check', bigConfig, '--no-progress']).screen).not.toContain('check:');
    expect(onTty(['check', seedConfig]).screen).not.toContain('check:');
  });
});

describe('no progress off a terminal', () => {
  it('eval, classbench, compile and check write nothing to stderr when it is not a terminal', () => {
    expect(cli(['eval', seedConfig, flows]).stderr).toBe('');
    expect(cli(['classbench', filters, trace]).stderr).toBe('');
    expect(cli(['compile', bigConfig, '-o', join(tmp, 'big2.bin')]).stderr).toBe('');
    expect(cli(['check', bigConfig]).stderr).toBe('');
  });
});
