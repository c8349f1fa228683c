/**
 * Terraform's compact security-group rule strings (tencentcloud_security_group_lite_rule):
 * "ACTION#PEER#PORT#PROTOCOL", e.g. "ACCEPT#192.168.1.0/24#80#TCP", "DROP#0.0.0.0/0#ALL#ALL".
 * Converted to a rule object; the validator then checks each part like any rule field.
 */
import type { Direction, RuleInput } from '../types.js';

export const TERRAFORM_SYNTAX = 'ACTION#PEER#PORT#PROTOCOL, e.g. ACCEPT#192.168.1.0/24#80#TCP';

/** The part names as Terraform's docs write them, per rule field. */
export const TERRAFORM_PARTS: Record<string, string> = {
  action: 'ACTION part',
  source: 'PEER part',
  destination: 'PEER part',
  port: 'PORT part',
  protocol: 'PROTOCOL part',
};

export function terraformRule(text: string, direction: Direction): RuleInput | undefined {
  const parts = text.split('#');
  if (parts.length !== 4) return undefined;
  const [action, peer, port, protocol] = parts.map((p) => p.trim()) as [string, string, string, string];
  const rule: RuleInput = { action, protocol, port };
  if (direction === 'inbound') rule.source = peer;
  else rule.destination = peer;
  return rule;
}
