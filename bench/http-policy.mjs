/**
 * The policy of bench/http.bench.ts: a web tier's two groups (an admin group and the
 * public one, 24 inbound rules), where the benchmark's clients (127.0.0.1 directly,
 * 203.0.113.0/24 through a proxy on loopback) are accepted by the 19th and 20th rules, after
 * rules of both families, ports and ranges that do not match.
 */
const admin = [];
for (let i = 0; i < 8; i++) admin.push({ protocol: 'TCP', port: 22, source: `10.${i}.0.0/16`, action: 'accept' });
admin.push({ protocol: 'TCP', port: '3389,5985-5986', source: '2001:db8:a::/48', action: 'accept' });
admin.push({ protocol: 'TCP', port: 'ALL', source: '192.0.2.0/24', action: 'drop' });
const web = [];
for (let i = 0; i < 6; i++) web.push({ protocol: 'TCP', port: 443, source: `198.51.${100 + i}.0/24`, action: 'accept' });
web.push({ protocol: 'UDP', port: 'ALL', source: '0.0.0.0/0', action: 'drop' });
web.push({ protocol: 'TCP', port: '8080-8090', source: '2001:db8::/32', action: 'accept' });
web.push({ protocol: 'TCP', port: 'ALL', source: '127.0.0.0/8', action: 'accept' });
web.push({ protocol: 'TCP', port: 'ALL', source: '203.0.113.0/24', action: 'accept' });
web.push({ protocol: 'TCP', port: 'ALL', source: '0.0.0.0/0', action: 'drop' });
web.push({ protocol: 'TCP', port: 'ALL', source: '::/0', action: 'drop' });

export const BENCH_POLICY = {
  securityGroups: [
    { id: 'sg-admin', inbound: admin },
    { id: 'sg-web', inbound: web },
  ],
  instances: [{ id: 'web-1', securityGroups: ['sg-admin', 'sg-web'] }],
};
