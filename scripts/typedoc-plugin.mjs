/**
 * TypeDoc plugin for the API reference (npm run docs:api): the code tables ErrorCodes
 * and IssueCodes document each code in its value (`CONFIG_INVALID: 'a config has one
 * or more issues'`), so that value becomes the code's comment; TypeDoc then shows it
 * and counts the code as documented.
 */
import { Comment, Converter, ReflectionKind } from 'typedoc';

const TABLES = new Set(['ErrorCodes', 'IssueCodes']);

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (_context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Property) || reflection.comment) return;
    const owner = reflection.parent?.kindOf(ReflectionKind.TypeLiteral) ? reflection.parent.parent : reflection.parent;
    if (!owner || !TABLES.has(owner.name)) return;
    const value = reflection.type?.type === 'literal' ? reflection.type.value : undefined;
    if (typeof value === 'string') reflection.comment = new Comment([{ kind: 'text', text: value }]);
  });
}
