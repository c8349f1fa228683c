/**
 * The policy of bench/guard.bench.ts: bench/http-policy.mjs's web tier (24 inbound
 * rules; loopback clients accepted by the 19th), plus the outbound rules the
 * `sgfilter proxy` egress guard needs to reach its upstream on loopback (the third).
 */
import { BENCH_POLICY } from './http-policy.mjs';

const outbound = [
  { protocol: 'TCP', port: 25, destination: '0.0.0.0/0', action: 'drop' },
  { protocol: 'UDP', port: 'ALL', destination: '0.0.0.0/0', action: 'drop' },
  { protocol: 'TCP', port: 'ALL', destination: '127.0.0.0/8', action: 'accept' },
];

export const GUARD_POLICY = {
  ...BENCH_POLICY,
  securityGroups: BENCH_POLICY.securityGroups.map((g) => (g.id === 'sg-web' ? { ...g, outbound } : g)),
};
