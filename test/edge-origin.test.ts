// examples/edge passes accepted requests on to ORIGIN: whatever path a client sends,
// the request goes to ORIGIN's host, never to a host named in the path (an open proxy:
// `//other-host/x` and `/\other-host/x` resolve as scheme-relative URLs).
import { fc } from '@fast-check/vitest';
import { expect, it } from 'vitest';

const FILTER = '../examples/edge/src/filter.js';
const { originUrl } = (await import(FILTER)) as { originUrl: (requestUrl: string, origin: string) => URL };

it('keeps ORIGIN\'s scheme, host and port for every request path, and copies the path and query', () => {
  const origin = 'https://origin.example:8443';
  const segment = fc.stringMatching(/^[A-Za-z0-9._~%\\/:@!$&'()*+,;=-]{0,20}$/);
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 5 }), fc.constantFrom('', '/', '//', '/\\', '\\\\', '/./', '/../'), fc.stringMatching(/^[A-Za-z0-9=&%]{0,12}$/), (parts, lead, query) => {
      const path = `${lead}${parts.join('/')}`;
      let requestUrl: URL;
      try {
        requestUrl = new URL(`http://client.example/${path.replace(/^\/+/, '/')}${query ? `?${query}` : ''}`);
      } catch {
        return; // not a URL a request can have
      }
      const raw = `http://client.example${requestUrl.pathname}${requestUrl.search}`;
      const to = originUrl(raw, origin);
      expect(to.origin, raw).toBe(origin);
      expect(to.search).toBe(requestUrl.search);
    }),
    { seed: 7, numRuns: 2000 },
  );
  for (const p of ['//evil.example/admin?x=1', '/\\evil.example/other', '//127.0.0.3:9/x']) {
    expect(originUrl(`http://client.example${p}`, origin).host).toBe('origin.example:8443');
  }
});
