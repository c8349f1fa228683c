// examples/edge README "Local development", as written: wrangler.toml's shipped KV id
// is one `sgfilter publish --local` accepts, publishing into it is what the worker
// (run as wrangler dev runs it: workerd through Miniflare, wrangler.toml's [vars] plus
// the README's .dev.vars, the local KV persisted under .wrangler/state) reads, and a
// plain request to the dev port from an accepted client gets 200 (without the
// README's SERVICE_PORT line it would be 403: the dev port is not the policy's).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Miniflare } from 'miniflare';
import { ROOT, bundleWorker } from './edge-bundle.js';

const EXAMPLE = join(ROOT, 'examples', 'edge');
const toml = readFileSync(join(EXAMPLE, 'wrangler.toml'), 'utf8');
const readme = readFileSync(join(EXAMPLE, 'README.md'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'sgfilter-local-dev-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** wrangler.toml's [vars] (flat string values only, which is all the example has). */
function vars(): Record<string, string> {
  const section = toml.slice(toml.indexOf('[vars]'));
  const out: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z_]+)\s*=\s*"([^"]*)"/gm)) out[m[1]!] = m[2]!;
  return out;
}

describe('examples/edge local development, as the README writes it', () => {
  const id = /\[\[kv_namespaces\]\][^[]*?^id\s*=\s*"([^"]*)"/m.exec(toml)?.[1];
  const section = readme.slice(readme.indexOf('## Local development'), readme.indexOf('## Where the client address'));

  it('wrangler.toml ships a usable local id, and the README publishes to exactly that id', () => {
    expect(id).toBe('sgfilter-local-policy');
    expect(section).toContain(`--kv-namespace ${id}`);
    expect(section).toMatch(/SERVICE_PORT=80/);
    expect(JSON.parse(readFileSync(join(EXAMPLE, 'package.json'), 'utf8')).scripts['publish:local']).toContain(`--kv-namespace ${id}`);
  });

  it('publish --local into that id, then a plain request to the dev port from an accepted client is 200', async () => {
    const key = join(tmp, 'snapshot.key');
    writeFileSync(key, 'a7'.repeat(32));
    const state = join(tmp, '.wrangler', 'state');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'publish', join(EXAMPLE, 'policy.yaml'), '--local', '--kv-namespace', id!, '--key-file', key, '--persist-to', state], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const b = await bundleWorker(join(EXAMPLE, 'src', 'worker.js'));
    const modules: { type: 'ESModule' | 'CompiledWasm'; path: string; contents: string | Uint8Array }[] = [{ type: 'ESModule', path: join(ROOT, 'worker.js'), contents: b.code }];
    for (const [name, path] of b.modules) modules.push({ type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) });
    const devVars = { POLICY_KEY: 'a7'.repeat(32), SERVICE_PORT: '80' }; // the README's .dev.vars
    const worker = (name: string, extra: Record<string, string>) => ({ name, modules, modulesRoot: ROOT, compatibilityDate: '2026-04-26', kvNamespaces: { POLICY_KV: id! }, bindings: { ...vars(), ...extra } });
    const mf = new Miniflare({
      host: '127.0.0.1',
      port: 0,
      defaultPersistRoot: join(state, 'v3'),
      workers: [worker('dev', devVars), worker('no-port', { POLICY_KEY: devVars.POLICY_KEY })],
    });
    try {
      const status = async (name: string, client: string) => {
        const w = (await mf.getWorker(name)) as unknown as { fetch(u: string, i?: RequestInit): Promise<Response> };
        const res = await w.fetch('http://127.0.0.1:8787/', { headers: { 'CF-Connecting-IP': client } });
        await res.arrayBuffer();
        return res.status;
      };
      expect(await status('dev', '127.0.0.1')).toBe(200);
      expect(await status('dev', '203.0.113.5')).toBe(403); // the policy's blocked range
      expect(await status('no-port', '127.0.0.1')).toBe(403); // what the reviewer met: port 8787
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});
