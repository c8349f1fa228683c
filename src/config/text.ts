/**
 * Config text (JSON or YAML) into a document, refusing what the two formats would
 * otherwise read silently in a way nobody meant.
 *
 * JSON: `JSON.parse` keeps the last of two equal keys, so `{"action": "drop",
 * "action": "accept"}` would open what its first line closes. The text goes once
 * through Microsoft's `jsonc-parser` scanner, which gives every token a line and
 * column: equal keys in one object are refused, naming the key and both places,
 * and so is nesting past MAX_DEPTH. `JSON.parse` builds the value (it makes
 * `"__proto__"` an ordinary key, where jsonc-parser's own `parse` would set the
 * object's prototype); when it refuses the text, jsonc-parser's strict parser
 * (no comments, no trailing commas) says where and why. A UTF-8 byte order mark at
 * the start is skipped, as YAML skips it.
 *
 * YAML: read as YAML 1.2 with the core schema only. A `%YAML 1.1` directive would
 * switch the `yaml` library to 1.1 rules (`port: 1:02` is then the sexagesimal
 * number 62, `yes` is true), so any %YAML directive other than 1.2 is refused
 * rather than obeyed or ignored; so are tags the core schema does not define
 * (`!!binary`, `!!timestamp`, `!custom`). Duplicate keys are refused with their line
 * (found in yamlValue, by the key the object would hold, aliases included).
 * Aliases are not limited by count (the `yaml` library's default refuses a file with
 * more than ~100 of them): their expansion is bounded where the document is read,
 * see MAX_EXPANSION in plain.ts, and they are resolved in one pass (yamlValue).
 *
 * Both: nesting deeper than MAX_DEPTH is refused from the tokens, before any parser
 * that recurses (jsonc-parser's, the yaml composer) sees the text.
 */
import { createScanner, printParseErrorCode, visit } from 'jsonc-parser';
import { Composer, isAlias, isMap, isScalar, isSeq, LineCounter, Parser, type CST, type Document } from 'yaml';
import { MAX_ISSUES_SHOWN, SgfilterError, type Issue, type IssueCode } from '../errors.js';
import { describeValue, MAX_DEPTH, MAX_EXPANSION, nameText, plainData, quote, stringWeight, STRING_WEIGHT_UNIT } from './plain.js';

/** jsonc-parser's SyntaxKind (a const enum, so written out here). */
const OPEN_BRACE = 1;
const CLOSE_BRACE = 2;
const OPEN_BRACKET = 3;
const CLOSE_BRACKET = 4;
const COMMA = 5;
const COLON = 6;
const STRING = 10;
const EOF = 17;

interface Where {
  /** 1-based. */
  line: number;
  /** 1-based, in characters of the line. */
  column: number;
}

const at = (w: Where): string => `line ${w.line}, column ${w.column}`;

function parseError(fileName: string, format: string, issues: Issue[]): SgfilterError {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((i) => `  - ${i.message}`);
  if (issues.length > MAX_ISSUES_SHOWN) shown.push(`  … and ${(issues.length - MAX_ISSUES_SHOWN).toLocaleString('en-US')} more (error.issues lists them)`);
  const head = issues.length === 1
    ? issues[0]!.message
    : `${nameText(fileName)}: not valid ${format}: ${issues.length.toLocaleString('en-US')} issues\n${shown.join('\n')}`;
  return new SgfilterError('CONFIG_PARSE', head, issues);
}

function textIssue(code: IssueCode, fileName: string, format: string, where: Where | undefined, message: string, given?: unknown): Issue {
  const issue: Issue = { code, path: [], message: `${nameText(fileName)}: not valid ${format}${where ? ` at ${at(where)}` : ''}: ${message}` };
  if (where) {
    issue.line = where.line;
    issue.column = where.column;
  }
  if (given !== undefined) issue.given = given;
  return issue;
}

/** "InvalidSymbol" → "invalid symbol". */
const words = (code: string): string => code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

const snippet = (text: string, offset: number, length: number): string => {
  const s = text.slice(offset, offset + Math.min(Math.max(length, 1), 20));
  return s === '' ? 'the end of the text' : quote(s);
};

/**
 * One JSON text (a config, one line of a flow file, a --flow argument) read as
 * parseConfigText reads a .json file: duplicate keys, nesting past MAX_DEPTH and
 * syntax errors are CONFIG_PARSE with line and column; a leading BOM is skipped.
 */
export function parseJsonText(text: string, name: string): unknown {
  return parseJson(text, name);
}

function parseJson(text: string, fileName: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const issue = (code: IssueCode, where: Where | undefined, message: string, given?: unknown) => textIssue(code, fileName, 'JSON', where, message, given);

  // One pass over jsonc-parser's tokens, without recursion: nesting depth, and keys
  // (a string followed by a colon) per object, with the path to each.
  const scanner = createScanner(body, true);
  const duplicates: Issue[] = [];
  /** Open lists and objects: the keys seen (objects) and the current key or index. */
  const open: { keys: Map<string, Where> | null; at: string | number }[] = [];
  let previous = EOF;
  let previousValue = '';
  let previousWhere: Where = { line: 1, column: 1 };
  for (let t = scanner.scan(); t !== EOF; t = scanner.scan()) {
    const where = { line: scanner.getTokenStartLine() + 1, column: scanner.getTokenStartCharacter() + 1 };
    if (t === OPEN_BRACE || t === OPEN_BRACKET) {
      if (open.length + 1 > MAX_DEPTH) {
        throw parseError(fileName, 'JSON', [issue('TOO_DEEP', where, `lists and objects are nested more than ${MAX_DEPTH} levels deep; a config needs fewer than 10`)]);
      }
      open.push({ keys: t === OPEN_BRACE ? new Map() : null, at: t === OPEN_BRACE ? '' : 0 });
    } else if (t === CLOSE_BRACE || t === CLOSE_BRACKET) {
      open.pop();
    } else if (t === COMMA) {
      const top = open.at(-1);
      if (top && top.keys === null) top.at = (top.at as number) + 1;
    } else if (t === COLON && previous === STRING) {
      const top = open.at(-1);
      if (top?.keys) {
        const key = previousValue;
        const first = top.keys.get(key);
        if (first) {
          const d = issue('DUPLICATE_KEY', previousWhere, `key ${describeValue(key)} appears twice in one object (first at ${at(first)}); JSON readers disagree on which one counts, so give each key once`, key);
          d.path = [...open.slice(0, -1).map((o) => o.at), key];
          duplicates.push(d);
        } else top.keys.set(key, previousWhere);
        top.at = key;
      }
    }
    previous = t;
    if (t === STRING) {
      previousValue = scanner.getTokenValue();
      previousWhere = where;
    }
  }

  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    // Where and why, from jsonc-parser in strict mode (depth is bounded by now, so its recursion is too).
    let syntax: Issue | undefined;
    visit(body, {
      onError: (code, offset, length, line, character) => {
        syntax ??= issue('PARSE_ERROR', { line: line + 1, column: character + 1 }, `${words(printParseErrorCode(code))} (found ${snippet(body, offset, length)})`);
      },
    }, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    throw parseError(fileName, 'JSON', [syntax ?? issue('PARSE_ERROR', undefined, (e as Error).message)]);
  }
  if (duplicates.length > 0) throw parseError(fileName, 'JSON', duplicates);
  return value;
}

/** Nesting depth of a YAML CST, walked with an explicit stack. */
function yamlDepthError(tokens: CST.Token[]): { offset: number } | undefined {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    switch (token.type) {
      case 'document':
        if (token.value) stack.push({ token: token.value, depth });
        break;
      case 'block-map': case 'block-seq': case 'flow-collection': {
        if (depth + 1 > MAX_DEPTH) return { offset: token.offset };
        for (const item of token.items) {
          const it = item as { key?: CST.Token | null; value?: CST.Token };
          if (it.key) stack.push({ token: it.key, depth: depth + 1 });
          if (it.value) stack.push({ token: it.value, depth: depth + 1 });
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

/**
 * The document as a JS value, aliases resolved to the anchored value itself (shared,
 * never copied: plainData counts what they would expand to). Written here rather
 * than with the library's toJS, which looks each alias up by scanning every earlier
 * anchor and alias (quadratic: 100,000 aliases would take minutes); this is one pass
 * in document order, where an alias means the closest anchor before it. Recursion
 * is bounded: depth was checked on the CST.
 *
 * Duplicate keys are found here, not by the library's `uniqueKeys` (which compares
 * each key with every earlier one: 40,000 keys took 29 s, and it compares nodes, so
 * `*a : accept` after `&a action: drop` got through). A key is the text the object
 * will hold (String() of the scalar, null as ""), so keys that only meet after that
 * (`1` and "1", `~` and "") and keys written as aliases are duplicates too: a key that
 * is already an own property of the mapping is refused, with both places. One Map
 * lookup per key: linear.
 *
 * An alias of a scalar is the same JS string, which plainData cannot tell from one
 * written out, so its weight is counted here against MAX_EXPANSION (stringWeight:
 * a long string weighs what its length costs whoever reads it).
 */
function yamlValue(
  doc: Document.Parsed,
  error: (offset: number, message: string, code?: IssueCode, given?: unknown) => Issue,
  whereOf: (offset: number) => Where,
): { ok: true; value: unknown } | { ok: false; issues: Issue[] } {
  const anchors = new Map<string, unknown>();
  let failure: Issue | undefined;
  const duplicates: Issue[] = [];
  let scalarExpansion = 0;
  const offsetOf = (node: unknown): number => (node as { range?: number[] } | null)?.range?.[0] ?? 0;
  const build = (node: unknown): unknown => {
    if (failure) return undefined;
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      if (!anchors.has(node.source)) {
        failure = error(offsetOf(node), `alias *${node.source} names no anchor before it; write &${node.source} on an earlier node`);
        return undefined;
      }
      const value = anchors.get(node.source);
      if (typeof value !== 'object' || value === null) {
        scalarExpansion += stringWeight(value);
        if (scalarExpansion > MAX_EXPANSION) {
          failure = error(offsetOf(node), `aliases of scalars expand the document by more than ${MAX_EXPANSION.toLocaleString('en-US')} values (a long string weighs one value per ${STRING_WEIGHT_UNIT} characters); that is refused as an expansion bomb: write the repeated parts out, or alias fewer or shorter ones`, 'ALIAS_EXPANSION');
          return undefined;
        }
      }
      return value;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (isScalar(node)) {
      if (anchor) anchors.set(anchor, node.value);
      return node.value;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      if (anchor) anchors.set(anchor, out); // set first: an alias inside is a cycle, which plainData refuses
      for (const item of node.items) out.push(build(item));
      return out;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      if (anchor) anchors.set(anchor, out);
      /** Where each key of this mapping was first written, and as what. */
      const seen = new Map<string, { offset: number; raw: unknown }>();
      for (const pair of node.items) {
        const k = build(pair.key);
        if (failure) return undefined;
        const offset = offsetOf(pair.key);
        if (typeof k === 'object' && k !== null) {
          failure = error(offset, 'a mapping key is a list or mapping; config keys are plain words');
          return undefined;
        }
        const key = k === null ? '' : String(k);
        const first = seen.get(key);
        if (first) {
          const w = whereOf(first.offset);
          const written = (raw: unknown) => (raw === null ? '~ (null)' : describeValue(raw));
          const spelled = first.raw !== k ? `; keys are compared as text, so ${written(first.raw)} and ${written(k)} are the same key` : '';
          duplicates.push(error(offset, `key ${describeValue(key)} appears twice in one mapping (first at ${at(w)})${spelled}; readers disagree on which one counts, so give each key once`, 'DUPLICATE_KEY', key.length > 80 ? `${key.slice(0, 80)}…` : key));
          build(pair.value); // still read (aliases and anchors inside it count), never stored
          continue;
        }
        seen.set(key, { offset, raw: k });
        Object.defineProperty(out, key, { value: build(pair.value), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    failure = error(offsetOf(node), 'a YAML node outside the 1.2 core schema');
    return undefined;
  };
  const value = build(doc.contents);
  if (failure) return { ok: false, issues: [failure] };
  if (duplicates.length > 0) return { ok: false, issues: duplicates };
  return { ok: true, value };
}

function parseYaml(text: string, fileName: string): unknown {
  const lines = new LineCounter();
  const whereOf = (offset: number): Where => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const issue = (code: IssueCode, where: Where | undefined, message: string, given?: unknown) => textIssue(code, fileName, 'YAML', where, message, given);

  // The CST parser is iterative; the composer after it recurses per level.
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const deep = yamlDepthError(tokens);
  if (deep) {
    throw parseError(fileName, 'YAML', [issue('TOO_DEEP', whereOf(deep.offset), `lists and mappings are nested more than ${MAX_DEPTH} levels deep; a config needs fewer than 10`)]);
  }
  for (const t of tokens) {
    if (t.type !== 'directive') continue;
    const m = /^%YAML[ \t]+(\S+)/.exec(t.source);
    if (m && m[1] !== '1.2') {
      throw parseError(fileName, 'YAML', [issue(
        'YAML_UNSUPPORTED', whereOf(t.offset),
        `the document declares YAML ${m[1]}; sgfilter reads YAML 1.2 (core schema) only, where "1:02" is a string and "yes" is not true. Remove the directive or write %YAML 1.2`,
        t.source,
      )]);
    }
  }

  const composer = new Composer({
    version: '1.2',
    schema: 'core',
    resolveKnownTags: false,
    uniqueKeys: false, // ours, in yamlValue: linear, and by the key the object holds
    strict: true,
    logLevel: 'silent',
  });
  const docs: Document.Parsed[] = [...composer.compose(tokens, true, text.length)];
  const doc = docs[0]!;
  const issues: Issue[] = [];
  if (docs.length > 1) {
    issues.push(issue('PARSE_ERROR', whereOf(docs[1]!.range[0]), 'a second document (after ---); a config file holds one document'));
  }
  for (const e of doc.errors) issues.push(issue('PARSE_ERROR', whereOf(e.pos[0]), e.message));
  for (const w of doc.warnings) {
    if (w.code === 'TAG_RESOLVE_FAILED') {
      issues.push(issue('YAML_UNSUPPORTED', whereOf(w.pos[0]), `${w.message}; sgfilter reads the YAML 1.2 core schema only (strings, numbers, booleans, null, lists and mappings), so remove the tag`));
    }
  }
  if (issues.length > 0) throw parseError(fileName, 'YAML', issues);
  const built = yamlValue(doc, (offset, message, code = 'PARSE_ERROR', given) => issue(code, whereOf(offset), message, given), whereOf);
  if (!built.ok) throw parseError(fileName, 'YAML', built.issues);
  const value = built.value;
  // Refuse alias bombs and alias cycles here, so that no caller of parseConfigText
  // is ever handed a document that explodes when walked.
  const plain = plainData(value, [], fileName);
  if (!plain.ok) throw parseError(fileName, 'YAML', plain.issues);
  return plain.value;
}

/**
 * Parses config text: YAML when `format` is 'yaml' or (without a format) the file
 * name ends in .yaml/.yml, JSON otherwise; `fileName` names the text in errors.
 * Throws SgfilterError CONFIG_PARSE whose issues carry line and column (codes
 * PARSE_ERROR, DUPLICATE_KEY, TOO_DEEP, YAML_UNSUPPORTED, ALIAS_EXPANSION, CIRCULAR).
 */
export function parseConfigText(text: string, fileName = 'config.json', format?: 'json' | 'yaml'): unknown {
  if (typeof text !== 'string') {
    throw new SgfilterError('INVALID_ARGUMENT', `parseConfigText takes the text of a config file (a string), got ${typeof text}`);
  }
  if (format !== undefined && format !== 'json' && format !== 'yaml') {
    throw new SgfilterError('INVALID_ARGUMENT', `parseConfigText: format must be "json" or "yaml", got ${typeof format === 'string' ? JSON.stringify(format) : typeof format}`);
  }
  if (typeof fileName !== 'string') {
    throw new SgfilterError('INVALID_ARGUMENT', `parseConfigText: the file name must be a string, got ${typeof fileName}`);
  }
  const yaml = format === undefined ? /\.ya?ml$/i.test(fileName) : format === 'yaml';
  try {
    return yaml ? parseYaml(text, fileName) : parseJson(text, fileName);
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    // Anything a parser throws (a stack overflow we did not foresee, an internal
    // error) is still a coded refusal, never a crash.
    const formatName = yaml ? 'YAML' : 'JSON';
    const msg = e instanceof Error ? e.message : String(e);
    throw parseError(fileName, formatName, [textIssue('PARSE_ERROR', fileName, formatName, undefined, msg)]);
  }
}
