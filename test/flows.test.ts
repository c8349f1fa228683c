// Flow objects (SPEC §1): fields of the caller's own are ignored, near-miss names are typos.
import { describe, expect, it } from 'vitest';
import { parseFlow, type SgfilterError } from '../src/index.js';

const base = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };

describe('flow fields', () => {
  it('ignores fields that are not near any flow field (ids, expected verdicts)', () => {
    expect(parseFlow({ ...base, id: 17, expected: 'accept', comment: 'from the trace' }).port).toBe(22);
  });

  it('refuses a misspelt flow field instead of ignoring it', () => {
    const err = (() => {
      try {
        parseFlow({ ...base, sourceport: 1234 });
      } catch (e) {
        return e as SgfilterError;
      }
    })();
    expect(err?.code).toBe('FLOW_INVALID');
    expect(err?.issues[0]).toMatchObject({ code: 'UNKNOWN_FIELD', path: ['sourceport'] });
    expect(err?.message).toContain('did you mean "sourcePort"');
  });

  it('reads IPv4-mapped IPv6 remotes as IPv4 and refuses malformed addresses', () => {
    expect(parseFlow({ ...base, remote: '::ffff:203.0.113.7' }).remote).toEqual({ v6: false, words: [0xcb007107, 0, 0, 0] });
    expect(() => parseFlow({ ...base, remote: '010.0.0.1' })).toThrow(expect.objectContaining({ code: 'FLOW_INVALID' }));
    expect(() => parseFlow({ ...base, remote: '1.2.3.256' })).toThrow(expect.objectContaining({ code: 'FLOW_INVALID' }));
  });
});
