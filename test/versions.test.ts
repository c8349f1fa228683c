// Versioned reloads (optimistic locking) and change notifications.
import { describe, expect, it } from 'vitest';
import { createEngine, type PolicyChange, type SgfilterError } from '../src/index.js';
import type { ConfigInput, FlowInput } from '../src/index.js';

const policy = (action: 'accept' | 'drop'): ConfigInput => ({
  securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action }] }],
});
const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };

describe('versions', () => {
  it('refuses a reload against a stale expectedVersion and changes nothing', async () => {
    const engine = await createEngine(policy('accept'));
    expect(await engine.reload(policy('drop'), { expectedVersion: 1 })).toBe(2);
    const err = (await engine.reload(policy('accept'), { expectedVersion: 1 }).catch((e) => e)) as SgfilterError;
    expect(err.code).toBe('VERSION_CONFLICT');
    expect(err.message).toContain('version 2');
    expect(engine.version).toBe(2);
    expect(engine.classify(ssh).action).toBe('drop');
    expect(await engine.reload(policy('accept'), { expectedVersion: 2 })).toBe(3);
    expect(engine.classify(ssh).action).toBe('accept');
  });

  it('tells change listeners about each publish, not about failed reloads', async () => {
    const engine = await createEngine(policy('accept'));
    const seen: PolicyChange[] = [];
    const stop = engine.on('change', (c) => seen.push(c));
    await engine.reload(policy('drop'));
    await expect(engine.reload({ securityGroups: [{ id: 'sg', inbound: [{}] }] } as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(engine.reload(policy('accept'), { expectedVersion: 1 })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await engine.reload(policy('accept'));
    stop();
    await engine.reload(policy('drop'));
    expect(seen).toEqual([
      { version: 2, previousVersion: 1, reason: 'reload' },
      { version: 3, previousVersion: 2, reason: 'reload' },
    ]);
    expect(() => engine.on('changed' as 'change', () => {})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
