/**
 * `sgfilter classbench FILTERS TRACE [--out FILE]`, run as users run it
 * (`node dist/src/cli.js`, built by the pretest script), on the ClassBench data
 * that SGFILTER_DATA points at (test/data.ts; skipped without it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithData } from './data.js';

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const nonBlankLines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

let tmp: string;
const tmpFile = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

describeWithData('classbench', 'sgfilter classbench', (dataDir) => {
  const filters = join(dataDir, 'acl1_1K');
  const trace = join(dataDir, 'acl1_1K_trace');

  beforeAll(() => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does it)`);
    if (!existsSync(filters) || !existsSync(trace)) throw new Error(`ClassBench data missing under ${dataDir}`);
    tmp = mkdtempSync(join(tmpdir(), 'sgfilter-classbench-'));
  });

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('matches every line of acl1_1K_trace, prints a summary and writes --out', () => {
    const out = join(tmp, 'chosen.txt');
    const r = cli(['classbench', filters, trace, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('acl1_1K (917 rules)');
    expect(r.stdout).toContain('acl1_1K_trace (9,380 trace lines)');
    expect(r.stdout).toMatch(/compile: \d+(\.\d+)? ms, table [\d,]+ bytes/);
    expect(r.stdout).toMatch(/lookup: +\d+(\.\d+)? ns\/lookup \(median of \d+ timed runs/);
    expect(r.stdout).toContain('0 mismatches in 9,380 checked lines');

    const traceLines = nonBlankLines(readFileSync(trace, 'utf8'));
    const written = readFileSync(out, 'utf8');
    expect(written.endsWith('\n')).toBe(true);
    const chosen = written.slice(0, -1).split('\n');
    expect(chosen).toHaveLength(traceLines.length);
    for (let i = 0; i < traceLines.length; i++) {
      const last = traceLines[i]!.trim().split(/\s+/).at(-1)!;
      if (chosen[i] !== last) expect(`line ${i + 1}: ${chosen[i]}`).toBe(`line ${i + 1}: ${last}`);
    }
  });

  it('reports a tampered expected rule as a mismatch with its line number, exit 1', () => {
    const lines = readFileSync(trace, 'utf8').split('\n');
    // Line 17 (1-based) expects rule 332; claim 333 instead.
    const cols = lines[16]!.split(' ');
    const was = Number(cols[5]);
    cols[5] = String(was + 1);
    lines[16] = cols.join(' ');
    const out = join(tmp, 'tampered-out.txt');
    const r = cli(['classbench', filters, tmpFile('tampered_trace', lines.join('\n')), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('1 mismatch in 9,380 checked lines');
    expect(r.stdout).toContain(`line 17: chosen rule ${was}, trace expects ${was + 1}`);
    expect(r.stderr).toContain('1 mismatch');
    // --out still says what the engine chose.
    expect(readFileSync(out, 'utf8').split('\n')[16]).toBe(String(was));
  });

  it('does not check trace lines without the expected-rule column', () => {
    const lines = nonBlankLines(readFileSync(trace, 'utf8')).slice(0, 100);
    // Line 5 loses its 6th column, line 6 expects a wrong rule: only line 6 is a mismatch.
    lines[4] = lines[4]!.split(' ').slice(0, 5).join(' ');
    const c6 = lines[5]!.split(' ');
    c6[5] = '1';
    lines[5] = c6.join(' ');
    const out = join(tmp, 'partial-out.txt');
    const r = cli(['classbench', filters, tmpFile('partial_trace', `${lines.join('\n')}\n`), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('1 mismatch in 99 checked lines (1 without an expected rule, not checked)');
    expect(r.stdout).toMatch(/line 6: chosen rule \d+, trace expects 1\n/);
    expect(r.stdout).not.toContain('line 5:');
    const chosen = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(chosen).toHaveLength(100);
    expect(Number(chosen[4])).toBeGreaterThan(0); // a rule was chosen, it just is not checked
  });

  it('rejects a malformed filter set with the bad line numbers, exit 1', () => {
    const rules = readFileSync(filters, 'utf8').split('\n');
    rules[2] = '@175.77.88.300/32 113.84.63.166/32 0 : 65535 1708 : 1708 0x06/0xFF';
    rules[4] = rules[4]!.replace(/ 0x06\/0xFF$/, '');
    const r = cli(['classbench', tmpFile('bad_filters', rules.join('\n')), trace]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('invalid ClassBench filter set: 2 issue(s)');
    expect(r.stderr).toMatch(/line 3: bad IPv4 prefix "175\.77\.88\.300\/32"/);
    expect(r.stderr).toMatch(/line 5: expected "@src\/len dst\/len/);
  });

  it('rejects a malformed trace with the line number, exit 1', () => {
    const r = cli(['classbench', filters, tmpFile('bad_trace', '1600753409 3271393328 65535 21 6 413\n1600753409 3271393328 70000 21 6 413\n')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('invalid ClassBench trace: 1 issue(s)');
    expect(r.stderr).toContain('line 2: expected "src dst sport dport proto [rule]"');
  });

  it('exits 1 on a missing file and 2 on usage errors', () => {
    const missing = cli(['classbench', join(tmp, 'nope'), trace]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/error: filter set: .*nope does not exist\n$/);
    expect(cli(['classbench', filters]).status).toBe(2);
    expect(cli(['classbench', filters, trace, '--bogus']).status).toBe(2);
  });
});
