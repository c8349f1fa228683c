// `sgfilter check` says valid only for a policy that loads: one that createEngine
// refuses with TABLE_TOO_LARGE is reported as too large to compile, exit 1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, SgfilterError } from '../src/index.js';
import { cli, requireBuild } from './cli-run.js';

let dir: string;
beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'sgfilter-check-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A set of 3,000 odd-ended IPv6 ranges (about 160 prefixes each) named in `orders` distinct merged group orders. */
function setPolicy(orders: number): Record<string, unknown> {
  const addresses = Array.from({ length: 3000 }, (_, i) => `2001:db8:${i.toString(16)}::1-2001:db8:${i.toString(16)}:ffff:ffff:ffff:ffff:fffe`);
  const securityGroups = Array.from({ length: orders }, (_, k) => ({ id: `g${k}`, inbound: [{ protocol: 'tcp', port: 22, source: 'big', action: 'accept' }] }));
  const instances = Array.from({ length: orders }, (_, k) => ({ id: `i${k}`, securityGroups: [`g${k}`, `g${(k + 1) % orders}`] }));
  return { addressSets: [{ id: 'big', addresses }], securityGroups, instances };
}

describe('check compiles under the limits loading applies', () => {
  it('a valid policy that createEngine refuses (TABLE_TOO_LARGE) is not "valid": exit 1, the issue named', async () => {
    const policy = setPolicy(20);
    await expect(createEngine(policy as never)).rejects.toSatisfy((e: unknown) => e instanceof SgfilterError && e.code === 'TABLE_TOO_LARGE');
    const path = join(dir, 'big.json');
    writeFileSync(path, JSON.stringify(policy));
    const r = cli(['check', path]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('valid config, but too large to compile (TABLE_TOO_LARGE)');
    expect(r.stderr).toContain('EXPANSION_TOO_LARGE at instances[');
  });
  it('the same set in few orders loads, and check says valid (exit 0)', async () => {
    const policy = setPolicy(2);
    await createEngine(policy as never);
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(policy));
    const r = cli(['check', path]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(': valid');
  }, 60_000);
});
