/**
 * The pieces `sgfilter eval` streams with, checked against simple models on
 * generated input (seeded: SGFILTER_FUZZ_SEED, SGFILTER_FUZZ_RUNS):
 *  - readLines (src/cli/line-reader.ts) gives the lines of any text however its
 *    bytes are cut into chunks (inside a line, a \r\n, a UTF-8 character), with the
 *    right numbers, and marks exactly the lines longer than the limit;
 *  - parseFlowJson (src/cli/flow-lines.ts), JSON.parse plus a key count, accepts
 *    exactly what parseJsonText (the config reader) accepts, with the same value, and
 *    refuses every duplicate key, so its fast path cannot let a last-wins through.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { IDLE, readLines, type LineChunk } from '../src/cli/line-reader.js';
import { parseFlowJson } from '../src/cli/flow-lines.js';
import { parseJsonText } from '../src/config/text.js';
import { evalStream } from '../src/cli/eval-stream.js';
import type { FlowSource } from '../src/cli/flow-input.js';
import { Progress } from '../src/cli/progress.js';
import { CliError } from '../src/cli/shared.js';
import { parseConfig } from '../src/config/parse.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x11e5);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);
const params = (salt: number, runs = RUNS) => ({ seed: SEED ^ salt, numRuns: runs });

async function* chunksOf(bytes: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...new Set(cuts.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b)) {
    if (c > at) yield bytes.subarray(at, c);
    at = Math.max(at, c);
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

interface Line {
  n: number;
  text: string;
  tooLong: boolean;
}

async function linesOf(bytes: Buffer, cuts: number[], max: number): Promise<Line[]> {
  const out: Line[] = [];
  let lastBytes = 0;
  for await (const c of readLines(chunksOf(bytes, cuts), { maxLineChars: max })) {
    if (c === IDLE) throw new Error('IDLE without idleMs');
    const chunk = c as LineChunk;
    expect(chunk.bytes).toBeGreaterThanOrEqual(lastBytes);
    lastBytes = chunk.bytes;
    chunk.lines.forEach((text, i) => out.push({ n: chunk.first + i, text, tooLong: chunk.tooLong?.includes(i) ?? false }));
  }
  return out;
}

/** The model: split at \n, the last piece only if non-empty, a \r before \n dropped; too long by the raw length. */
function modelLines(text: string, max: number): Line[] {
  const pieces = text.split('\n');
  if (pieces[pieces.length - 1] === '') pieces.pop();
  return pieces.map((raw, i) => {
    const tooLong = raw.length > max;
    return { n: i + 1, text: tooLong ? '' : raw.endsWith('\r') ? raw.slice(0, -1) : raw, tooLong };
  });
}

const lineText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '𝄞', '\r', ' ', '"'), maxLength: 40 }),
  fc.constant(''),
);

describe(`readLines (seed ${SEED})`, () => {
  it('gives the lines of any text, whatever the chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineText, { maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 45 }),
        async (lines, crlf, trailing, cuts, max) => {
          const text = lines.join(crlf ? '\r\n' : '\n') + (trailing && lines.length > 0 ? '\n' : '');
          const bytes = Buffer.from(text, 'utf8');
          const model = modelLines(bytes.toString('utf8'), max);
          expect(await linesOf(bytes, cuts, max)).toEqual(model);
        },
      ),
      params(1),
    );
  });

  it('drops a line longer than the limit as it streams by, however long', async () => {
    const long = 'x'.repeat(5_000_000);
    const bytes = Buffer.from(`a\n${long}\nb\n${long}`);
    const cuts = Array.from({ length: 200 }, (_, i) => i * 65_536);
    const got = await linesOf(bytes, cuts, 1000);
    expect(got).toEqual([
      { n: 1, text: 'a', tooLong: false },
      { n: 2, text: '', tooLong: true },
      { n: 3, text: 'b', tooLong: false },
      { n: 4, text: '', tooLong: true },
    ]);
  });

  it('says IDLE when the input pauses, then goes on', async () => {
    async function* slow(): AsyncGenerator<Buffer> {
      yield Buffer.from('a\n');
      await new Promise((r) => setTimeout(r, 120));
      yield Buffer.from('b\n');
    }
    const seen: string[] = [];
    for await (const c of readLines(slow(), { maxLineChars: 100, idleMs: 30 })) seen.push(c === IDLE ? 'IDLE' : (c as LineChunk).lines.join(','));
    expect(seen[0]).toBe('a');
    expect(seen).toContain('IDLE');
    expect(seen[seen.length - 1]).toBe('b');
  });
});

/** The careful reader's answer: the value, or a refusal. */
function careful(text: string): { value: unknown } | { refused: true } {
  try {
    return { value: parseJsonText(text, 'x') };
  } catch {
    return { refused: true };
  }
}

const keyText = fc.oneof(
  fc.constantFrom('direction', 'protocol', 'remote', 'port', '__proto__', 'constructor', 'a:b', 'a"b', 'a\\', '', ' '),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', ':', ',', '{', '}', ' ', 'é'), maxLength: 6 }),
);
const value = fc.jsonValue({ maxDepth: 3 });

/** A JSON object text, possibly with one key repeated somewhere in it (at any depth). */
const objectText = fc
  .tuple(fc.array(fc.tuple(keyText, value), { maxLength: 6 }), fc.option(fc.tuple(fc.nat(), value, fc.nat(), fc.boolean())), fc.constantFrom('', ' ', '\t'))
  .map(([entries, dup, ws]) => {
    const list = entries.map(([k, v]) => `${JSON.stringify(k)}${ws}:${ws}${JSON.stringify(v)}`);
    if (dup && entries.length > 0) {
      const [which, v, at] = dup;
      list.splice(at % (list.length + 1), 0, `${JSON.stringify(entries[which % entries.length]![0])}:${JSON.stringify(v)}`);
    }
    const obj = `{${list.join(`,${ws}`)}}`;
    return dup?.[3] ? `{"remote":"10.0.0.1","nested":[1,${obj}]}` : obj;
  });

/** Valid and broken texts: generated JSON, objects with duplicates, and either with a character changed. */
const jsonText = fc.oneof(
  fc.json({ maxDepth: 3 }),
  objectText,
  fc.tuple(fc.oneof(fc.json({ maxDepth: 2 }), objectText), fc.nat(), fc.constantFrom('', '"', ':', ',', '}', '\\', '\ufeff', ' ')).map(([t, at, c]) => {
    const i = at % (t.length + 1);
    return t.slice(0, i) + c + t.slice(i + 1);
  }),
);

describe(`parseFlowJson (seed ${SEED})`, () => {
  it('accepts exactly what parseJsonText accepts, with the same value', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const want = careful(text);
        const got = parseFlowJson(text);
        if ('refused' in want) {
          expect('error' in got, `accepted ${JSON.stringify(text)}`).toBe(true);
        } else {
          expect('value' in got, `refused ${JSON.stringify(text)}: ${'error' in got ? got.error : ''}`).toBe(true);
          if ('value' in got) expect(JSON.stringify(got.value)).toBe(JSON.stringify(want.value));
        }
      }),
      params(2, RUNS * 5),
    );
  });

  it('refuses a repeated key anywhere, with the column of the second one', () => {
    const cases: [string, number][] = [
      ['{"port":1,"port":2}', 11],
      ['{"a\\":":1,"a\\":":2}', 11],
      ['{"x":{"k":1,"k":2}}', 13],
      ['[{"__proto__":1,"__proto__":2}]', 17],
      ['{"s":"\\"port\\":","port":1,"port":2}', 27],
    ];
    for (const [text, column] of cases) {
      const r = parseFlowJson(text);
      expect(r, text).toMatchObject({ column });
      expect('error' in r && r.error).toMatch(/appears twice in one object \(first at column \d+\)/);
    }
  });
});

describe('eval over a file that changes between its two passes', () => {
  const config = parseConfig({ securityGroups: [{ id: 'sg', inbound: ['ACCEPT#0.0.0.0/0#22#TCP'] }] });
  const good = '{"direction":"inbound","protocol":"TCP","port":22,"remote":"10.0.0.1"}';
  /** A "regular file" whose content is `first` when checked and `second` when classified. */
  const changing = (first: string, second: string): FlowSource => {
    let reads = 0;
    return {
      name: 'flows.jsonl',
      size: undefined,
      rereadable: true,
      async *open() {
        yield Buffer.from(reads++ === 0 ? first : second);
      },
    };
  };
  const run = async (source: FlowSource) => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      await evalStream(config, source, { skipInvalid: false, lineNumbers: false, summary: false, progress: Progress.create('eval', false) });
      return { written: written.join(''), error: undefined };
    } catch (e) {
      return { written: written.join(''), error: e as Error };
    } finally {
      spy.mockRestore();
    }
  };

  it('stops with exit 1 at a line that turned bad, saying how many verdicts were printed', async () => {
    const r = await run(changing(`${good}\n${good}\n${good}\n`, `${good}\n{"direction":\n${good}\n`));
    expect(r.error).toBeInstanceOf(CliError);
    expect(r.error!.message).toMatch(/^error: flows\.jsonl changed while it was read: flows\.jsonl line 2, column 14: not valid JSON/);
    expect(r.error!.message).toContain('0 verdicts had been printed');
  });

  it('refuses a file that has more or fewer flows the second time', async () => {
    const r = await run(changing(`${good}\n`, `${good}\n${good}\n`));
    expect(r.error!.message).toBe('error: flows.jsonl changed while it was read: 1 flow when checked, 2 when classified; the output does not match the file');
    expect(r.written.split('\n').length - 1).toBe(2);
  });
});
