// Instances carry their own addresses (SPEC §7 direction, §9): validated like rule
// peers, kept through transactions and snapshots.
import { describe, expect, it } from 'vitest';
import { createEngine, decodeSnapshot, parseConfig, safeParseConfig, type SecurityGroupInput } from '../src/index.js';

const group: SecurityGroupInput = { id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] };

describe('instance addresses', () => {
  it('are read as address sets: addresses, CIDRs and ranges, IPv4-mapped as IPv4', () => {
    const config = parseConfig({ securityGroups: [group], instances: [{ id: 'i', securityGroups: ['sg'], addresses: ['10.0.0.5', '10.1.0.0/16', '2001:db8::1', '::ffff:192.0.2.1', '10.2.0.1-10.2.0.9'] }] });
    expect(config.instances[0]!.addresses).toEqual({
      v4: [{ lo: 0x0a000005n, hi: 0x0a000005n }, { lo: 0x0a010000n, hi: 0x0a01ffffn }, { lo: 0xc0000201n, hi: 0xc0000201n }, { lo: 0x0a020001n, hi: 0x0a020009n }],
      v6: [{ lo: 0x20010db8000000000000000000000001n, hi: 0x20010db8000000000000000000000001n }],
    });
  });

  it('an instance without them has none', () => {
    expect(parseConfig({ securityGroups: [group], instances: [{ id: 'i', securityGroups: ['sg'] }] }).instances[0]!.addresses).toBeUndefined();
  });

  it.each([
    ['10.0.0.5', 'INVALID_TYPE', ['instances', 0, 'addresses']],
    [[5], 'INVALID_TYPE', ['instances', 0, 'addresses', 0]],
    [['10.0.0.5', '10.0.0.300'], 'INVALID_ADDRESS', ['instances', 0, 'addresses', 1]],
    [['10.0.0.1/8'], 'HOST_BITS_SET', ['instances', 0, 'addresses', 0]],
    [['any'], 'INVALID_ADDRESS', ['instances', 0, 'addresses', 0]],
    [['2001:db8::/129'], 'PREFIX_TOO_LONG', ['instances', 0, 'addresses', 0]],
  ])('%j is refused with %s at its path', (addresses, code, path) => {
    const r = safeParseConfig({ securityGroups: [group], instances: [{ id: 'i', securityGroups: ['sg'], addresses }] });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.issues).toContainEqual(expect.objectContaining({ code, path }));
  });

  it('survive edits of the instance, addInstance and snapshots', async () => {
    const engine = await createEngine({ securityGroups: [group, { id: 'sg2' }], instances: [{ id: 'i', securityGroups: ['sg'], addresses: ['10.0.0.5'] }] });
    await engine.update((tx) => tx.bindGroup('i', 'sg2').addInstance({ id: 'j', securityGroups: ['sg2'], addresses: ['10.0.0.6'] }));
    expect(engine.config.instances.map((i) => i.addresses?.v4)).toEqual([[{ lo: 0x0a000005n, hi: 0x0a000005n }], [{ lo: 0x0a000006n, hi: 0x0a000006n }]]);
    expect(decodeSnapshot(engine.snapshot()).config.instances[1]!.addresses).toEqual({ v4: [{ lo: 0x0a000006n, hi: 0x0a000006n }], v6: [] });
  });
});
