/**
 * Terraform's compact security-group rule strings (tencentcloud_security_group_lite_rule):
 * "ACTION#PEER#PORT#PROTOCOL", e.g. "ACCEPT#192.168.1.0/24#80#TCP", "DROP#0.0.0.0/0#ALL#ALL".
 * Converted to a rule object; the validator then checks each part like any rule field.
 */
import type { Direction } from '../types.js';
import type { RawRule } from './rule.js';
import { TERRAFORM_SEPARATOR } from './fields.js';

export { TERRAFORM_SYNTAX } from './fields.js';

/** The part names as Terraform's docs write them, per rule field (a Map: looked up by field name). */
export const TERRAFORM_PARTS: ReadonlyMap<string, string> = new Map([
  ['action', 'ACTION part'],
  ['source', 'PEER part'],
  ['destination', 'PEER part'],
  ['port', 'PORT part'],
  ['protocol', 'PROTOCOL part'],
]);

/**
 * The rule object a lite string stands for, or undefined when it does not have
 * four parts. Each part is left as written (trimmed): the rule validator reads
 * ACTION, PORT and PROTOCOL with the same Map-backed tables as rule objects.
 */
export function terraformRule(text: string, direction: Direction): RawRule | undefined {
  const parts = text.split(TERRAFORM_SEPARATOR);
  if (parts.length !== 4) return undefined;
  const [action, peer, port, protocol] = parts.map((p) => p.trim()) as [string, string, string, string];
  const rule: RawRule = { action, protocol, port };
  if (direction === 'inbound') rule.source = peer;
  else rule.destination = peer;
  return rule;
}
