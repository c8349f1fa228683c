// The SVG diagrams in docs/diagrams are generated from their .dot sources: they must be current.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('docs/diagrams/*.svg are rendered from the current .dot sources (npm run docs:diagrams)', () => {
  const script = fileURLToPath(new URL('../scripts/diagrams.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
