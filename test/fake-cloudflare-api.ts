/**
 * Test helper: a stand-in for Cloudflare's KV REST API on 127.0.0.1 (never the
 * network), as `sgfilter publish --api-url` talks to it:
 *   GET /client/v4/accounts/A/storage/kv/namespaces/N/values/KEY   200 bytes | 404 JSON
 *   PUT /client/v4/accounts/A/storage/kv/namespaces/N/values/KEY   200 { success: true }
 * It checks the bearer token, records every call, and keeps values in a backing store:
 * a Map, or Miniflare's local KV (so workers in workerd read what was published).
 * `failNext` makes the next calls fail (a status, a hang) to test retries and deadlines.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KvBacking {
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array): Promise<void>;
}

export interface ApiCall {
  method: string;
  account: string;
  namespace: string;
  key: string;
  authorization: string | undefined;
  contentType: string | undefined;
  bytes: number;
  status: number;
}

export type Failure = { status: number; body?: string } | 'hang';

export interface FakeApi {
  url: string;
  calls: ApiCall[];
  /** The next calls fail like this, one entry per call. */
  failNext: Failure[];
  /** Called before a PUT is stored (a racing publisher, for conflict tests). */
  beforePut?: (key: string) => Promise<void> | void;
  close(): Promise<void>;
}

/** Values in a Map, per namespace id. */
export function mapBacking(): KvBacking & { map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  return { map, get: async (k) => map.get(k) ?? null, put: async (k, v) => void map.set(k, v) };
}

const PATH = /^\/client\/v4\/accounts\/([^/]+)\/storage\/kv\/namespaces\/([^/]+)\/values\/([^/?]+)$/;

export async function startFakeApi(token: string, namespaces: Record<string, KvBacking>): Promise<FakeApi> {
  const hung: ServerResponse[] = [];
  const api: FakeApi = { url: '', calls: [], failNext: [], close: async () => undefined };
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const m = PATH.exec(req.url ?? '');
    const call: ApiCall = {
      method: req.method ?? '',
      account: m?.[1] ?? '',
      namespace: m?.[2] ?? '',
      key: m ? decodeURIComponent(m[3]!) : '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      bytes: body.length,
      status: 0,
    };
    api.calls.push(call);
    const json = (status: number, doc: object) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    };
    const failure = api.failNext.shift();
    if (failure === 'hang') {
      hung.push(res);
      return;
    }
    if (failure) {
      call.status = failure.status;
      res.writeHead(failure.status, { 'content-type': 'application/json' }).end(failure.body ?? JSON.stringify({ success: false, errors: [{ code: 10000, message: 'injected failure' }] }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) return json(403, { success: false, errors: [{ code: 10000, message: 'Authentication error' }], result: null });
    const kv = m ? namespaces[m[2]!] : undefined;
    if (!m || !kv) return json(404, { success: false, errors: [{ code: 10013, message: 'namespace not found' }], result: null });
    if (req.method === 'GET') {
      const value = await kv.get(call.key);
      if (value === null) return json(404, { success: false, errors: [{ code: 10009, message: "get: 'key not found'" }], result: null });
      call.status = 200;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(value));
      return;
    }
    if (req.method === 'PUT') {
      await api.beforePut?.(call.key);
      await kv.put(call.key, new Uint8Array(body));
      return json(200, { success: true, errors: [], messages: [], result: null });
    }
    return json(405, { success: false, errors: [{ code: 10000, message: 'method not allowed' }] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  api.close = async () => {
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return api;
}
