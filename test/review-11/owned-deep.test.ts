// Outside review (at11): every owned Config (parseConfig, update, loadSnapshot, ClassBench)
// is frozen all the way down and no object in it reads through Object.prototype.
import { describe, expect, it } from 'vitest';
import { createEngine, parseClassBench, parseConfig } from '../../src/index.js';
import { PLAIN_PROTO } from '../../src/config/plain.js';
import { mulberry32, randomConfig } from '../random.js';

function problems(root: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown, path: string) => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (!Object.isFrozen(v)) out.push(`${path} is not frozen`);
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== PLAIN_PROTO && proto !== null) out.push(`${path} has prototype ${proto === Object.prototype ? 'Object.prototype' : String(proto)}`);
    for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], `${path}.${k}`);
  };
  walk(root, 'config');
  return out.slice(0, 5);
}

describe('review at11: owned configs are frozen and prototype-free all the way down', () => {
  it('parseConfig, update, snapshot round trip, ClassBench', async () => {
    const r = mulberry32(7);
    for (let i = 0; i < 30; i++) {
      const config = parseConfig(randomConfig(r, 20));
      expect(problems(config)).toEqual([]);
      const engine = await createEngine(config);
      const g = config.securityGroups[0]!;
      await engine.update([{ op: 'addRule', groupId: g.id, direction: 'inbound', rule: { action: 'accept', protocol: 'tcp', port: '22', source: '10.0.0.0/8', description: 'x' } }]);
      expect(problems(engine.config)).toEqual([]);
      const loaded = await createEngine({ snapshot: engine.snapshot() });
      expect(problems(loaded.config)).toEqual([]);
    }
    const cb = parseClassBench('@10.0.0.0/8\t1.2.3.4/32\t0 : 65535\t80 : 80\t0x06/0xFF\n@0.0.0.0/0\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x00/0x00\n');
    expect(problems(cb)).toEqual([]);
    const e2 = await createEngine(cb);
    expect(problems((await createEngine({ snapshot: e2.snapshot() })).config)).toEqual([]);
  }, 120_000);
});
