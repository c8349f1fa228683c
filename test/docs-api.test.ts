// The API reference (npm run docs:api, TypeDoc with typedoc.json) is built from the
// docstrings: every symbol the four entry points export (sgfilter, sgfilter/edge,
// sgfilter/node, sgfilter/http), and every property and method of their types, has one, links
// resolve, and nothing public refers to a type that is not exported. TypeDoc's
// validation with treatWarningsAsErrors fails the run otherwise.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

it('TypeDoc documents the four entry points with no warning (every export documented, every link resolved)', () => {
  const config = JSON.parse(readFileSync(new URL('../typedoc.json', import.meta.url), 'utf8')) as { entryPoints: string[]; treatWarningsAsErrors: boolean; validation: Record<string, boolean> };
  expect(config.entryPoints).toEqual(['src/index.ts', 'src/edge/index.ts', 'src/node/index.ts', 'src/http/index.ts']);
  expect(config.treatWarningsAsErrors).toBe(true);
  expect(config.validation).toMatchObject({ notDocumented: true, notExported: true, invalidLink: true });
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/typedoc/bin/typedoc', import.meta.url)), '--emit', 'none'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  expect(out.split('\n').filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
  expect(r.status).toBe(0);
}, 240_000);
