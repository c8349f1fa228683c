/**
 * `sgfilter eval` at real sizes, run as users run it: flows streamed in constant
 * memory, one verdict line per flow in input order, bad lines refused (a file
 * whole, stdin at the first bad line) or skipped with --skip-invalid, stdin
 * answered as it comes, and a reader that closes the pipe early.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, parseConfigText } from '../src/config/parse.js';
import { parseFlow } from '../src/flow.js';
import { referenceClassify } from '../src/reference.js';
import { cli, cliPath, nonBlankLines, requireBuild, root, seedConfig, seedFlows } from './cli-run.js';

const config = parseConfig(parseConfigText(readFileSync(seedConfig, 'utf8'), seedConfig));
const seedLines = nonBlankLines(readFileSync(seedFlows, 'utf8'));
/** The reference verdict of each seed flow, as eval prints it. */
const seedVerdicts = seedLines.map((l) => JSON.stringify(referenceClassify(config, parseFlow(JSON.parse(l)))));

/** Flows in a big file: the seed flows over and over, so every line's verdict is known. */
const BIG = 300_000;
/** More than one batch (EVAL_BATCH_FLOWS = 65,536) of good lines before a bad one. */
const PAST_A_BATCH = 70_000;
/**
 * Peak memory allowed for eval of BIG flows. Streaming measured ~150 MB here whatever
 * the input size (5M flows: 163 MB); reading the whole file (before) took 360 MB at
 * this size and grows ~0.9 GB per million flows.
 */
const PEAK_MB = 250;

const flowLine = (i: number): string => seedLines[i % seedLines.length]!;
const verdictOf = (i: number): string => seedVerdicts[i % seedVerdicts.length]!;
const bad = '{"direction":"inbound","protocol":"TCP","port":70000,"remote":"10.0.0.1"}';

let tmp: string;
let bigFile: string;
let bigText: string;
const tmpFile = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  requireBuild();
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-eval-stream-'));
  const lines: string[] = [];
  for (let i = 0; i < BIG; i++) lines.push(flowLine(i));
  bigText = `${lines.join('\n')}\n`;
  bigFile = tmpFile('big.jsonl', bigText);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Checks that `stdout` holds exactly one verdict per flow line 0..n-1, in order, each the reference's. */
function expectVerdicts(stdout: string, n: number, lineOf: (k: number) => number = (k) => k): void {
  const out = stdout.split('\n');
  expect(out.pop()).toBe(''); // every line ends in \n
  expect(out.length).toBe(n);
  for (let k = 0; k < n; k++) {
    if (out[k] !== verdictOf(lineOf(k))) throw new Error(`verdict line ${k + 1}: ${out[k]}, expected ${verdictOf(lineOf(k))}`);
  }
}

describe('eval streams', () => {
  it(`classifies ${BIG.toLocaleString('en-US')} flows from a file: one verdict per line, in order, in bounded memory`, () => {
    const r = cli(['eval', seedConfig, bigFile, '--summary'], { rss: true });
    expect(r.status).toBe(0);
    expectVerdicts(r.stdout, BIG);
    const accepted = Array.from({ length: BIG }, (_, i) => verdictOf(i)).filter((v) => v.includes('"accept"')).length;
    expect(r.stderr).toBe(`${BIG} flows: ${accepted} accepted, ${BIG - accepted} dropped (${r.stdout.split('"groupId":null').length - 1} by the default drop)\n`);
    expect(r.peakMB).toBeLessThan(PEAK_MB);
  });

  it(`classifies ${BIG.toLocaleString('en-US')} flows from stdin in bounded memory, with --line-numbers`, () => {
    const r = cli(['eval', seedConfig, '-', '--line-numbers'], { input: bigText, rss: true });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout.split('\n');
    expect(out.pop()).toBe('');
    expect(out.length).toBe(BIG);
    for (let k = 0; k < BIG; k++) {
      const want = `${verdictOf(k).slice(0, -1)},"line":${k + 1}}`;
      if (out[k] !== want) throw new Error(`verdict line ${k + 1}: ${out[k]}, expected ${want}`);
    }
    expect(r.peakMB).toBeLessThan(PEAK_MB);
  });

  it('skips blank lines, reads \\r\\n line ends, a UTF-8 BOM and a last line without a newline', () => {
    const text = `\ufeff${flowLine(0)}\r\n\r\n   \n${flowLine(1)}\r\n\t\n${flowLine(2)}`;
    const r = cli(['eval', seedConfig, tmpFile('crlf.jsonl', text), '--line-numbers']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe([[0, 1], [1, 4], [2, 6]].map(([i, line]) => `${verdictOf(i!).slice(0, -1)},"line":${line}}\n`).join(''));
  });

  it('prints nothing for an empty input and exits 0', () => {
    for (const input of ['', '\n\n']) {
      const r = cli(['eval', seedConfig, '-', '--summary'], { input });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('0 flows: 0 accepted, 0 dropped (0 by the default drop)\n');
    }
  });
});

describe('eval refuses a file with a bad line before printing anything', () => {
  it('counts every bad line, lists the first 20 with line numbers (JSON errors with their column), exit 1', () => {
    const lines: string[] = [];
    const badAt = new Set<number>();
    for (let i = 0; i < PAST_A_BATCH + 5000; i++) {
      if (i % 3001 === 1500) {
        badAt.add(i + 1);
        lines.push(i % 2 ? bad : '{"direction":"inbound",,}');
      } else lines.push(flowLine(i));
    }
    const path = tmpFile('bad-many.jsonl', `${lines.join('\n')}\n`);
    const r = cli(['eval', seedConfig, path]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: ${badAt.size} invalid flow lines in ${path}; nothing was classified`);
    const listed = [...r.stderr.matchAll(/ line (\d+)[,:]/g)].map((m) => Number(m[1]));
    expect(listed).toEqual([...badAt].slice(0, 20));
    expect(r.stderr).toContain(`... and ${badAt.size - 20} more`);
    expect(r.stderr).toMatch(/line 1501, column 24: not valid JSON: property name expected \(found ","\)/);
    expect(r.stderr).toMatch(/line 4502: flow, port: 70000 is not a whole number 0-65535/);
  });

  it('refuses an unknown instance, a duplicate key (with both columns) and an over-long line', () => {
    const long = `{"direction":"inbound","protocol":"TCP","port":1,"remote":"10.0.0.1","pad":"${'x'.repeat(1 << 20)}"}`;
    const lines = [flowLine(0), '{"instance":"ins-nope","direction":"inbound","protocol":"TCP","port":22,"remote":"10.0.0.1"}',
      '{"direction":"inbound","protocol":"TCP","protocol":"UDP","port":22,"remote":"10.0.0.1"}', long, flowLine(1)];
    const r = cli(['eval', seedConfig, tmpFile('bad-kinds.jsonl', lines.join('\n'))]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('line 2: unknown instance "ins-nope"; the config has: "ins-1"');
    expect(r.stderr).toContain('line 3, column 41: key "protocol" appears twice in one object (first at column 24)');
    expect(r.stderr).toContain('line 4: longer than 1,048,576 characters');
  });
});

describe('eval on stdin stops at the first bad line', () => {
  it('prints the verdicts of every line before it, says how many, exit 1', () => {
    const lines = [flowLine(0), flowLine(1), flowLine(2), '{"direction":', flowLine(3)];
    const r = cli(['eval', seedConfig, '-'], { input: lines.join('\n') });
    expect(r.status).toBe(1);
    expectVerdicts(r.stdout, 3);
    expect(r.stderr).toMatch(/^error: stdin line 4, column 14: not valid JSON: value expected/);
    expect(r.stderr).toContain('stopped there: 3 verdicts printed, one for each flow before line 4');
  });

  it('past a batch: every flow before the bad line is answered, none after it (an invalid flow, not bad JSON)', () => {
    const lines: string[] = [];
    for (let i = 0; i < PAST_A_BATCH; i++) lines.push(flowLine(i));
    lines.push(bad);
    for (let i = 0; i < 100; i++) lines.push(flowLine(i));
    const r = cli(['eval', seedConfig, '-'], { input: lines.join('\n') });
    expect(r.status).toBe(1);
    expectVerdicts(r.stdout, PAST_A_BATCH);
    expect(r.stderr).toContain(`stdin line ${PAST_A_BATCH + 1}: flow, port: 70000`);
    expect(r.stderr).toContain(`stopped there: ${PAST_A_BATCH.toLocaleString('en-US')} verdicts printed`);
  });
});

describe('eval --skip-invalid', () => {
  it('classifies the good lines, reports each bad one by line number on stderr, exit 0; --line-numbers maps verdicts to lines', () => {
    const lines: string[] = [];
    for (let i = 0; i < PAST_A_BATCH; i++) lines.push(i % 10_000 === 7 ? (i % 20_000 === 7 ? bad : '{nope') : flowLine(i));
    const badLines = lines.flatMap((l, i) => (l === bad || l === '{nope' ? [i + 1] : []));
    for (const input of ['file', 'stdin'] as const) {
      const args = ['eval', seedConfig, input === 'file' ? tmpFile('skip.jsonl', lines.join('\n')) : '-', '--skip-invalid', '--line-numbers', '--summary'];
      const r = cli(args, input === 'stdin' ? { input: lines.join('\n') } : {});
      expect(r.status).toBe(0);
      const out = nonBlankLines(r.stdout).map((l) => JSON.parse(l) as { line: number });
      expect(out.length).toBe(PAST_A_BATCH - badLines.length);
      const good = lines.flatMap((_, i) => (badLines.includes(i + 1) ? [] : [i]));
      out.forEach((v, k) => {
        expect(v.line).toBe(good[k]! + 1);
        expect(JSON.stringify({ ...v, line: undefined })).toBe(verdictOf(good[k]!));
      });
      const reported = [...r.stderr.matchAll(/^sgfilter: skipped \S+ line (\d+)/gm)].map((m) => Number(m[1]));
      expect(reported).toEqual(badLines);
      expect(r.stderr).toMatch(new RegExp(`${out.length} flows: \\d+ accepted, \\d+ dropped \\(\\d+ by the default drop\\); ${badLines.length} invalid lines skipped`));
    }
  });
});

describe('eval --skip-invalid on nothing but bad lines', () => {
  it('reports every one, in order, prints no verdict, exit 0', () => {
    const n = PAST_A_BATCH;
    const r = cli(['eval', seedConfig, '-', '--skip-invalid'], { input: `${'{nope\n'.repeat(n)}`, rss: true });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const reported = r.stderr.split('\n').filter((l) => l.startsWith('sgfilter: skipped '));
    expect(reported.length).toBe(n);
    expect(reported[n - 1]).toBe(`sgfilter: skipped stdin line ${n}, column 2: not valid JSON: invalid symbol (found "nope")`);
    expect(r.stderr).toContain(`0 flows classified; ${n.toLocaleString('en-US')} invalid lines skipped`);
    expect(r.peakMB).toBeLessThan(PEAK_MB);
  });
});

describe('eval as a Unix filter', () => {
  it('answers each flow on an open stdin without waiting for the input to end', async () => {
    const child = spawn(process.execPath, [cliPath, 'eval', seedConfig, '-'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const waitLines = async (n: number) => {
        const end = Date.now() + 20_000;
        while (out.split('\n').length - 1 < n) {
          if (Date.now() > end) throw new Error(`no verdict ${n} after 20 s; got ${JSON.stringify(out)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      child.stdin.write(`${flowLine(0)}\n`);
      await waitLines(1);
      child.stdin.write(`${flowLine(1)}\n`);
      await waitLines(2);
      expect(out).toBe(`${verdictOf(0)}\n${verdictOf(1)}\n`);
      child.stdin.end();
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code).toBe(0);
    } finally {
      child.kill();
    }
  });

  it('stops quietly with exit 0 when the reader closes the pipe early (| head -1)', () => {
    const r = spawnShell(`"${process.execPath}" "${cliPath}" eval "${seedConfig}" "${bigFile}" | head -n 1; echo "status \${PIPESTATUS[0]}" >&2`);
    expect(r.stdout).toBe(`${verdictOf(0)}\n`);
    expect(r.stderr).toBe('status 0\n');
  });
});

function spawnShell(script: string): { stdout: string; stderr: string } {
  return spawnSync('bash', ['-c', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}
