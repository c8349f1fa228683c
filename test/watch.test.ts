// watchConfig and `sgfilter watch`: a config file kept in step with the engine (issue #4).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadConfigFile, watchConfig, type SgfilterError } from '../src/index.js';
import type { FlowInput } from '../src/index.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(root, 'dist', 'src', 'cli.js');

const yaml = (action: string, port: string | number = 22) => `securityGroups:
  - id: sg
    inbound:
      - { protocol: TCP, port: ${port}, source: 0.0.0.0/0, action: ${action} }
`;
const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-watch-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function waitFor(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchConfig', () => {
  it('publishes valid saves, keeps the policy on invalid ones and reports every issue with its path', async () => {
    const dir = mkdtempSync(join(tmp, 'lib-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, yaml('accept'));
    const engine = await createEngine({ file });
    const reloads: { version: number; previousVersion: number }[] = [];
    const errors: SgfilterError[] = [];
    const w = watchConfig(file, engine, { debounceMs: 30, onReload: (e) => reloads.push(e), onError: (e) => errors.push(e as SgfilterError) });
    try {
      await sleep(50);
      writeFileSync(file, yaml('drop'));
      await waitFor('first reload', () => reloads.length === 1);
      expect(reloads[0]).toMatchObject({ version: 2, previousVersion: 1, path: file });
      expect(engine.classify(ssh).action).toBe('drop');

      // Invalid: two issues, both reported with their paths; the policy stays.
      writeFileSync(file, yaml('maybe', 70000));
      await waitFor('an error', () => errors.length === 1);
      expect(errors[0]!.code).toBe('CONFIG_INVALID');
      expect(errors[0]!.issues.map((i) => [i.code, i.path])).toEqual([
        ['PORT_OUT_OF_RANGE', ['securityGroups', 0, 'inbound', 0, 'port']],
        ['INVALID_ACTION', ['securityGroups', 0, 'inbound', 0, 'action']],
      ]);
      expect(engine.version).toBe(2);
      expect(engine.classify(ssh).action).toBe('drop');

      // Not YAML at all.
      writeFileSync(file, 'securityGroups: [\n');
      await waitFor('a parse error', () => errors.length === 2);
      expect(errors[1]!.code).toBe('CONFIG_PARSE');
      expect(engine.version).toBe(2);

      // Saved the way many editors do: a new file renamed over the old one.
      writeFileSync(join(dir, '.policy.yaml.swp'), yaml('accept'));
      renameSync(join(dir, '.policy.yaml.swp'), file);
      await waitFor('reload after rename', () => reloads.length === 2);
      expect(engine.version).toBe(3);
      expect(engine.classify(ssh).action).toBe('accept');

      // Other files of the directory are ignored.
      writeFileSync(join(dir, 'notes.txt'), 'hello');
      await sleep(150);
      expect(reloads.length).toBe(2);
    } finally {
      w.close();
    }
    writeFileSync(file, yaml('drop'));
    await sleep(150);
    expect(engine.version).toBe(3);
  });

  it('debounces a burst of writes into one publish, and skips saves that change nothing', async () => {
    const dir = mkdtempSync(join(tmp, 'burst-'));
    const file = join(dir, 'policy.json');
    const json = (port: number) => JSON.stringify({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port, source: 'any', action: 'accept' }] }] });
    writeFileSync(file, json(1));
    const engine = await createEngine({ file });
    const versions: number[] = [];
    const w = watchConfig(file, engine, { debounceMs: 300, onReload: (e) => versions.push(e.version), onError: (e) => { throw e; } });
    try {
      await sleep(50);
      for (let p = 2; p <= 10; p++) {
        writeFileSync(file, json(p));
        await sleep(5);
      }
      await waitFor('the burst to publish', () => versions.length === 1);
      await sleep(400);
      expect(versions).toEqual([2]);
      expect(engine.classify({ ...ssh, port: 10 }).action).toBe('accept');
      expect(engine.classify({ ...ssh, port: 9 }).action).toBe('drop');
      writeFileSync(file, json(10)); // same content
      await sleep(500);
      expect(versions).toEqual([2]);
    } finally {
      w.close();
    }
  });

  it('watches the files of one policy together: a change to any publishes them as one policy; issues name their file', async () => {
    const dir = mkdtempSync(join(tmp, 'multi-'));
    const sub = mkdtempSync(join(tmp, 'multi-sets-'));
    const policy = join(dir, 'policy.yaml');
    const sets = join(sub, 'sets.yaml');
    writeFileSync(policy, 'securityGroups:\n  - id: sg\n    inbound:\n      - { protocol: TCP, port: 22, source: office, action: accept }\n');
    writeFileSync(sets, 'addressSets:\n  - { id: office, addresses: [10.0.0.0/8] }\n');
    const engine = await createEngine(await loadConfigFile([policy, sets]));
    const reloads: number[] = [];
    const errors: SgfilterError[] = [];
    const w = watchConfig([policy, sets], engine, { debounceMs: 30, onReload: (e) => reloads.push(e.version), onError: (e) => errors.push(e as SgfilterError) });
    expect(w.paths).toEqual([policy, sets]);
    try {
      expect(engine.classify(ssh).action).toBe('drop');
      await sleep(50);
      writeFileSync(sets, 'addressSets:\n  - { id: office, addresses: [198.51.100.0/24] }\n');
      await waitFor('a reload after the sets file changed', () => reloads.length === 1);
      expect(engine.classify(ssh).action).toBe('accept');
      writeFileSync(sets, 'addressSets:\n  - { id: offices, addresses: [198.51.100.0/24] }\n');
      await waitFor('an error', () => errors.length === 1);
      expect(errors[0]!.issues.map((i) => i.file)).toEqual([policy]);
      expect(engine.classify(ssh).action).toBe('accept');
    } finally {
      w.close();
    }
  });

  it('refuses a negative debounce', async () => {
    const engine = await createEngine({ securityGroups: [] });
    expect(() => watchConfig(join(tmp, 'x.yaml'), engine, { debounceMs: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('sgfilter watch', () => {
  it('prints the version, one line per publish and every issue of a refused save, until SIGINT', async () => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does it)`);
    const dir = mkdtempSync(join(tmp, 'cli-'));
    const file = join(dir, 'policy.yaml');
    const flows = join(dir, 'flows.jsonl');
    writeFileSync(file, yaml('accept'));
    writeFileSync(flows, `${JSON.stringify(ssh)}\n${JSON.stringify({ ...ssh, port: 80 })}\n`);
    const child = spawn(process.execPath, [cliPath, 'watch', file, '--flows', flows, '--debounce', '30'], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the start line', () => out.includes('version 1'), 10_000);
      expect(out).toMatch(/^\d\d:\d\d:\d\d watching .*policy\.yaml: version 1 \(1 security group, 1 instance\); 2 flows: 1 accepted, 1 dropped\n$/);
      await sleep(100);
      writeFileSync(file, yaml('drop'));
      await waitFor('the publish line', () => out.includes('version 2 published'));
      expect(out).toMatch(/version 2 published \(1 security group, 1 instance\); 2 flows: 0 accepted, 2 dropped, 1 verdict changed\n/);
      writeFileSync(file, yaml('maybe', '22-21'));
      await waitFor('the refusal', () => err.includes('INVALID_ACTION'));
      expect(err).toMatch(/edit refused, version 2 stays: 2 issues\n/);
      expect(err).toContain('REVERSED_RANGE at securityGroups[0].inbound[0].port');
      expect(err).toContain('INVALID_ACTION at securityGroups[0].inbound[0].action');
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopped at version 2\n$/);
    expect(out.split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('exits 1 with every issue when the config is invalid at start', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, yaml('maybe'));
    const child = spawn(process.execPath, [cliPath, 'watch', file], { cwd: root });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(err).toContain('INVALID_ACTION at securityGroups[0].inbound[0].action');
  });
});
