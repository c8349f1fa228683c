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
 * (`!!binary`, `!!timestamp`, `!custom`). Duplicate keys are refused with their line.
 * Aliases are not limited by count (the `yaml` library's default refuses a file with
 * more than ~100 of them): their expansion is bounded where the document is read,
 * see MAX_EXPANSION in plain.ts, and they are resolved in one pass (yamlValue).
 *
 * Both: nesting deeper than MAX_DEPTH is refused from the tokens, before any parser
 * that recurses (jsonc-parser's, the yaml composer) sees the text.
 */
import { createScanner, printParseErrorCode, visit } from 'jsonc-parser';
import { Composer, isAlias, isMap, isScalar, isSeq, LineCounter, Parser, visit as visitYaml, type CST, type Document } from 'yaml';
import { SgfilterError, type Issue, type IssueCode } from '../errors.js';
import { describeValue, MAX_DEPTH, plainData } from './plain.js';

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
  const head = issues.length === 1
    ? issues[0]!.message
    : `${fileName}: not valid ${format}: ${issues.length} issues\n${issues.map((i) => `  - ${i.message}`).join('\n')}`;
  return new SgfilterError('CONFIG_PARSE', head, issues);
}

function textIssue(code: IssueCode, fileName: string, format: string, where: Where | undefined, message: string, given?: unknown): Issue {
  const issue: Issue = { code, path: [], message: `${fileName}: not valid ${format}${where ? ` at ${at(where)}` : ''}: ${message}` };
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
  return s === '' ? 'the end of the text' : JSON.stringify(s);
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
      const top = open[open.length - 1];
      if (top && top.keys === null) top.at = (top.at as number) + 1;
    } else if (t === COLON && previous === STRING) {
      const top = open[open.length - 1];
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
 */
function yamlValue(doc: Document.Parsed, error: (offset: number, message: string) => Issue): { ok: true; value: unknown } | { ok: false; issue: Issue } {
  const anchors = new Map<string, unknown>();
  let failure: Issue | undefined;
  const build = (node: unknown): unknown => {
    if (failure) return undefined;
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      if (!anchors.has(node.source)) {
        failure = error(node.range?.[0] ?? 0, `alias *${node.source} names no anchor before it; write &${node.source} on an earlier node`);
        return undefined;
      }
      return anchors.get(node.source);
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
      for (const pair of node.items) {
        const k = build(pair.key);
        if (failure) return undefined;
        if (typeof k === 'object' && k !== null) {
          failure = error((pair.key as { range?: number[] } | null)?.range?.[0] ?? 0, 'a mapping key is a list or mapping; config keys are plain words');
          return undefined;
        }
        const key = k === null ? '' : String(k);
        Object.defineProperty(out, key, { value: build(pair.value), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    failure = error((node as { range?: number[] }).range?.[0] ?? 0, 'a YAML node outside the 1.2 core schema');
    return undefined;
  };
  const value = build(doc.contents);
  return failure ? { ok: false, issue: failure } : { ok: true, value };
}

/** Offset of every mapping key → the key as a string (depth is bounded before this runs). */
function keyOffsets(doc: Document.Parsed): Map<number, string> {
  const out = new Map<number, string>();
  visitYaml(doc, {
    Pair: (_k, pair) => {
      const key = pair.key as { range?: [number, number, number]; value?: unknown } | null;
      if (key && key.range) out.set(key.range[0], isScalar(key) ? String(key.value) : String(key));
    },
  });
  return out;
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
    uniqueKeys: true,
    strict: true,
    logLevel: 'silent',
  });
  const docs: Document.Parsed[] = [...composer.compose(tokens, true, text.length)];
  const doc = docs[0]!;
  const issues: Issue[] = [];
  if (docs.length > 1) {
    issues.push(issue('PARSE_ERROR', whereOf(docs[1]!.range[0]), 'a second document (after ---); a config file holds one document'));
  }
  let keysAt: Map<number, string> | undefined;
  for (const e of doc.errors) {
    const where = whereOf(e.pos[0]);
    if (e.code === 'DUPLICATE_KEY') {
      // The key as the document means it (quotes and escapes resolved), found by its offset.
      keysAt ??= keyOffsets(doc);
      const key = keysAt.get(e.pos[0]) ?? text.slice(e.pos[0], e.pos[1]).trim();
      issues.push(issue('DUPLICATE_KEY', where, `key ${describeValue(key)} appears twice in one mapping; give each key once`, key.length > 80 ? `${key.slice(0, 80)}…` : key));
    } else {
      issues.push(issue('PARSE_ERROR', where, e.message));
    }
  }
  for (const w of doc.warnings) {
    if (w.code === 'TAG_RESOLVE_FAILED') {
      issues.push(issue('YAML_UNSUPPORTED', whereOf(w.pos[0]), `${w.message}; sgfilter reads the YAML 1.2 core schema only (strings, numbers, booleans, null, lists and mappings), so remove the tag`));
    }
  }
  if (issues.length > 0) throw parseError(fileName, 'YAML', issues);
  const built = yamlValue(doc, (offset, message) => issue('PARSE_ERROR', whereOf(offset), message));
  if (!built.ok) throw parseError(fileName, 'YAML', [built.issue]);
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
