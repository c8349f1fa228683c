/**
 * The JSON Schema of the config file (draft-07, what editors' YAML and JSON language
 * servers read), written from the declarations of fields.ts: the same field lists,
 * words, port syntax and descriptions the validator uses. `npm run schema` writes it
 * to schema/sgfilter-config.schema.json, shipped as `sgfilter/schema.json`;
 * test/schema.test.ts fails when that file is not what this module writes.
 *
 * The schema is as permissive as the validator wherever the validator is lenient
 * (words in any case, whitespace around them, ports as numbers or text), so an editor
 * never flags a config that sgfilter accepts. It checks what a schema can: field
 * names, types, words, the port and Terraform syntax, which fields go together. The
 * rest (a preset and a port that disagree, host bits in a CIDR, an instance naming a
 * group that does not exist) is the validator's, with its messages.
 *
 * No `node:` imports.
 */
import { SHAPES, type ObjectShape, type Pattern, type Shape, type ShapeName } from './fields.js';

/** What a generated schema says about itself (the generated-file banner). */
export const SCHEMA_BANNER = 'Generated from src/config/fields.ts by scripts/schema.ts (npm run schema); do not edit.';
/** Where the package keeps the schema, relative to its root (package.json exports it as sgfilter/schema.json). */
export const SCHEMA_FILE = 'schema/sgfilter-config.schema.json';

type Json = { [key: string]: unknown };

/** Every character whose toLowerCase() is `ch` (the validator lowercases what users write). */
let upperOf: Map<string, string[]> | undefined;
function spellings(ch: string): string[] {
  if (!upperOf) {
    upperOf = new Map();
    for (let c = 0; c <= 0xffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const s = String.fromCharCode(c);
      const lower = s.toLowerCase();
      if (lower.length !== 1 || lower === s) continue;
      const list = upperOf.get(lower) ?? [];
      list.push(s);
      upperOf.set(lower, list);
    }
  }
  return [ch, ...(upperOf.get(ch) ?? [])];
}

/** Characters a regular expression escapes (with the `u` flag, as ajv and editors compile patterns, no others may be). */
const SPECIAL = /[\\^$.*+?()[\]{}|/]/;
const escapeChar = (c: string): string => {
  const code = c.charCodeAt(0);
  if (code < 0x20 || code > 0x7e) return `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return SPECIAL.test(c) ? `\\${c}` : c;
};

/** A word as the validator reads it: any case (every character that lowercases to each letter). */
function wordPattern(word: string, collapseSpaces: boolean): string {
  let out = '';
  for (const ch of word.toLowerCase()) {
    if (ch === ' ' && collapseSpaces) out += String.raw`\s+`;
    else {
      const all = spellings(ch);
      out += all.length === 1 ? escapeChar(ch) : `[${all.map(escapeChar).join('')}]`;
    }
  }
  return out;
}

function words(list: readonly string[], collapseSpaces = false): string {
  return `(?:${list.map((w) => wordPattern(w, collapseSpaces)).join('|')})`;
}

function pattern(p: Pattern): string {
  return `^(?:${p.map((part) => (typeof part === 'string' ? part : words(part.words, part.collapseSpaces))).join('')})$`;
}

const required = (fields: readonly string[]): Json[] => fields.map((f) => ({ required: [f] }));

function objectSchema(shape: ObjectShape): Json {
  const out: Json = { type: 'object' };
  if (shape.title !== undefined) out.title = shape.title;
  if (shape.description !== undefined) out.description = shape.description;
  const properties: Json = {};
  const names: string[] = [];
  for (const [name, field] of Object.entries(shape.fields)) {
    properties[name] = withDescription(render(field.shape), field.description);
    if (field.required) names.push(name);
  }
  out.properties = properties;
  if (names.length) out.required = names;
  out.additionalProperties = shape.open === true;
  const all: Json[] = [];
  for (const set of shape.someOf ?? []) all.push({ anyOf: required(set) });
  for (const set of shape.oneOf ?? []) all.push({ oneOf: required(set) });
  for (const set of shape.notTogether ?? []) all.push({ not: { required: [...set] } });
  if (shape.absent?.length) all.push({ not: { anyOf: required(shape.absent) } });
  if (shape.needs) out.dependencies = Object.fromEntries(Object.entries(shape.needs).map(([k, v]) => [k, [...v]]));
  if (all.length === 1) Object.assign(out, all[0]);
  else if (all.length > 1) out.allOf = all;
  return out;
}

/** A field's description beside its shape (draft-07 ignores what stands beside a $ref, so a ref is wrapped). */
function withDescription(schema: Json, description: string): Json {
  if ('$ref' in schema) return { description, allOf: [schema] };
  return { ...schema, description };
}

function render(shape: Shape): Json {
  const doc = (s: Json): Json => (shape.description === undefined ? s : { ...s, description: shape.description });
  switch (shape.kind) {
    case 'string': {
      const s: Json = { type: 'string' };
      if (shape.pattern) s.pattern = pattern(shape.pattern);
      if (shape.examples) s.examples = [...shape.examples];
      return doc(s);
    }
    case 'words':
      return doc({ type: 'string', pattern: pattern([String.raw`\s*`, { words: shape.words, collapseSpaces: shape.collapseSpaces ?? false }, String.raw`\s*`]), examples: [...shape.words] });
    case 'integer': {
      const s: Json = { type: 'integer' };
      if (shape.min !== undefined) s.minimum = shape.min;
      if (shape.max !== undefined) s.maximum = shape.max;
      return doc(s);
    }
    case 'number': return doc({ type: 'number' });
    case 'null': return doc({ type: 'null' });
    case 'anyOf': return doc({ anyOf: shape.of.map(render) });
    case 'list': {
      const s: Json = { type: 'array', items: render(shape.of) };
      if (shape.unique) s.uniqueItems = true;
      return doc(s);
    }
    case 'object': return objectSchema(shape);
    case 'ref': return shape.description === undefined ? { $ref: `#/definitions/${shape.name}` } : withDescription({ $ref: `#/definitions/${shape.name}` }, shape.description);
    case 'any': return doc({});
  }
}

/**
 * The JSON Schema (draft-07) of an sgfilter config file, as a plain object: native
 * configs, Terraform lite rule strings, and Tencent Cloud policy documents.
 */
export function configJsonSchema(): Json {
  const definitions: Json = {};
  for (const name of Object.keys(SHAPES) as ShapeName[]) {
    if (name !== 'config') definitions[name] = render(SHAPES[name]);
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: SCHEMA_BANNER,
    title: 'sgfilter config',
    ...render(SHAPES.config),
    definitions,
  };
}

/** The schema file's text: two-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
