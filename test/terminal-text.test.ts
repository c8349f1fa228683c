/**
 * User text never reaches a terminal raw (attack finding 11): group ids, names,
 * descriptions and instance ids were printed as written, so a config could overwrite
 * the CLI's error line with a fake "valid". Generated configs carry control
 * characters (ESC sequences, CR, BEL, C1 CSI, DEL, bidi overrides, line separators) in
 * every text field; whatever the CLI prints for them (check, explain, eval, on valid
 * and invalid configs) and whatever message the library builds (parse, update,
 * classify) holds none of those characters raw: each is escaped as JSON writes it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, parseConfig, SgfilterError } from '../src/index.js';
import { main } from '../src/cli/main.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x7e11);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);
const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** What a terminal obeys rather than shows (newline aside, which is the CLI's own). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const hostileChar = fc.constantFrom('\u001b', '\u001b[2K', '\u001b]0;pwned\u0007', '\r', '\n', '\u0007', '\u0008', '\u009b', '\u0085', '\u007f', '\u202e', '\u2066', '\u2028', '\u0000', '\t');
const hostile = fc.tuple(fc.string({ maxLength: 6 }), fc.array(hostileChar, { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 6 })).map(([a, cs, b]) => `${a}${cs.join('')}${b}` || 'x');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-term-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in this process; returns what it wrote. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'sgfilter', ...args]);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

const docs = fc.record({
  group: hostile,
  name: hostile,
  description: hostile,
  instance: hostile,
  badRef: hostile,
  valid: fc.boolean(),
});

function docOf(d: { group: string; name: string; description: string; instance: string; badRef: string; valid: boolean }): unknown {
  return {
    securityGroups: [{ id: d.group, name: d.name, inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'drop', description: d.description }] }],
    instances: [{ id: d.instance, securityGroups: d.valid ? [d.group] : [d.group, d.badRef] }],
  };
}

describe(`user text reaches the terminal escaped (seed ${SEED})`, () => {
  it('check, explain and eval print no control character a config put in an id, name or description', async () => {
    await fc.assert(
      fc.asyncProperty(docs, async (d) => {
        const file = join(tmp, 'policy.json');
        writeFileSync(file, JSON.stringify(docOf(d)));
        const flow = JSON.stringify({ direction: 'inbound', protocol: 'TCP', port: 22, remote: '192.0.2.1', instance: d.instance });
        const flows = join(tmp, 'flows.jsonl');
        writeFileSync(flows, `${flow}\n${JSON.stringify({ direction: 'inbound', protocol: 'TCP', port: 22, remote: '192.0.2.1', instance: d.badRef })}\n`);
        for (const args of [['check', file], ['explain', file, '--flow', flow], ['eval', file, flows]]) {
          const r = await cli(args);
          expect(r.out, `${args[0]} stdout ${JSON.stringify(r.out)}`).not.toMatch(RAW);
          expect(r.err, `${args[0]} stderr ${JSON.stringify(r.err)}`).not.toMatch(RAW);
        }
      }),
      { seed: SEED, numRuns: Math.max(20, RUNS / 5) },
    );
  });

  it('library messages (parse, update, classify) quote user text: no raw control character, no line break inside an issue', async () => {
    await fc.assert(
      fc.asyncProperty(docs, hostile, async (d, edit) => {
        const doc = docOf(d);
        const messages: string[] = [];
        const collect = (e: unknown) => {
          expect(e).toBeInstanceOf(SgfilterError);
          messages.push(...(e as SgfilterError).message.split('\n'));
          for (const i of (e as SgfilterError).issues) messages.push(i.message, i.allowed ?? '');
        };
        let engine;
        try {
          engine = await createEngine(parseConfig(doc));
        } catch (e) {
          collect(e);
        }
        if (engine) {
          await engine.update([{ op: 'bindGroup', instanceId: edit, groupId: edit }, { op: 'addRule', groupId: d.group, direction: 'inbound', rule: { protocol: edit, source: edit, action: edit, description: edit } as never }]).catch(collect);
          try {
            engine.classify({ direction: 'inbound', protocol: 'TCP', port: 22, remote: '192.0.2.1', instance: edit });
          } catch (e) {
            collect(e);
          }
        }
        for (const m of messages) expect(m, JSON.stringify(m)).not.toMatch(RAW);
        expect(messages.length).toBeGreaterThan(0);
      }),
      { seed: SEED ^ 1, numRuns: RUNS },
    );
  });

  it('the probe: an invalid config cannot overwrite its error line with a fake "valid" (real process, real stderr)', () => {
    const ESC = '\u001b';
    const file = join(tmp, 'evil.json');
    writeFileSync(file, JSON.stringify({ securityGroups: [{ id: 'sg' }], instances: [{ id: 'i', securityGroups: [`x${ESC}[2K${ESC}[1A${ESC}[2K\r${file}: valid${ESC}[8m`] }] }));
    const r = spawnSync(process.execPath, [join(root, 'dist', 'src', 'cli.js'), 'check', file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain('\\u001b[2K');
  });
});
