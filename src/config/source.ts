/**
 * What createEngine and reload take as a policy, said explicitly: a config object
 * (native, Tencent API JSON, or an already-validated Config), `{ text }` (config text,
 * JSON or YAML), `{ file }` (a config file: Node only), or `{ snapshot, key? }` (a
 * compiled policy). A bare string is refused: in Node it used to mean a file path and
 * at the edge config text, so a document passed as a "path" failed with ENOENT and the
 * whole document in the message. No `node:` imports: Node and edge share it.
 */
import { SgfilterError } from '../errors.js';
import { describeValue } from '../describe.js';
import { parseConfigText } from './text.js';

/** `{ text }`: config text. `format` (or a `fileName` ending in .yaml/.yml/.json) says how to read it; default JSON. */
export interface ConfigTextSource {
  /** The config text: JSON, or YAML with format 'yaml'. */
  text: string;
  /** 'json' (default) or 'yaml'. */
  format?: 'json' | 'yaml';
  /** The name to report in errors (and, without `format`, its extension picks the format). */
  fileName?: string;
}

/** `{ file, format? }`: the path of a JSON or YAML config file (Node only). */
export interface ConfigFileSource {
  /** The file's path, relative to the working directory. */
  file: string;
  /** 'json' or 'yaml'; by default the name decides: .yaml/.yml is YAML, anything else JSON. */
  format?: 'json' | 'yaml';
}

export type SourceKind =
  | { kind: 'text'; text: string; fileName: string; format: 'json' | 'yaml' | undefined; named: boolean }
  | { kind: 'file'; path: string; format: 'json' | 'yaml' | undefined }
  | { kind: 'object'; value: unknown };

const TEXT_FIELDS = new Set(['text', 'format', 'fileName']);
const FILE_FIELDS = new Set(['file', 'format']);

/** What errors call `{ text }` given without a fileName: it is text, not a file. */
export const CONFIG_TEXT_NAME = 'the config text ({ text })';

const own = (x: object, k: string): boolean => Object.hasOwn(x, k);

/**
 * Sorts a createEngine/reload argument into text, file or anything else (configs and
 * snapshots, read by the engine: what is not a config is CONFIG_INVALID there).
 * Refuses a bare string with INVALID_ARGUMENT saying what to pass.
 */
export function sourceKind(x: unknown, where: string): SourceKind {
  if (typeof x === 'string') {
    const shown = describeValue(x);
    throw new SgfilterError(
      'INVALID_ARGUMENT',
      `${where} takes a config object, { file: path }, { text: configText } or { snapshot: bytes }, not a bare string (${shown}): ` +
        `write ${where}({ file: ${shown.length > 40 ? '"policy.yaml"' : shown} }) for a file, or ${where}({ text }) for config text`,
    );
  }
  // Anything else that is not an object is a config the validator refuses (CONFIG_INVALID).
  if (typeof x !== 'object' || x === null) return { kind: 'object', value: x };
  // A hostile object (a revoked proxy, throwing traps or getters) goes to the config
  // validator, which reports it; only a plain { text } or { file } is read here.
  let fields: { text?: unknown; format?: unknown; fileName?: unknown; file?: unknown; keys: string[]; hasText: boolean; hasFile: boolean };
  try {
    if (Array.isArray(x)) return { kind: 'object', value: x };
    const keys = Object.keys(x);
    const hasText = own(x, 'text');
    const hasFile = own(x, 'file');
    if (!hasText && !hasFile) return { kind: 'object', value: x };
    const o = x as Record<string, unknown>;
    fields = { keys, text: o.text, format: o.format, fileName: o.fileName, file: o.file, hasText, hasFile };
  } catch {
    return { kind: 'object', value: x };
  }
  const { keys } = fields;
  if (fields.hasText && keys.every((k) => TEXT_FIELDS.has(k))) {
    const { text, format, fileName } = fields;
    if (typeof text !== 'string') throw new SgfilterError('INVALID_ARGUMENT', `${where}({ text }): text must be the config text (a string), got ${describeValue(text)}`);
    if (format !== undefined && format !== 'json' && format !== 'yaml') {
      throw new SgfilterError('INVALID_ARGUMENT', `${where}({ text, format }): format must be "json" or "yaml", got ${describeValue(format)}`);
    }
    if (fileName !== undefined && typeof fileName !== 'string') {
      throw new SgfilterError('INVALID_ARGUMENT', `${where}({ text, fileName }): fileName must be a string, got ${describeValue(fileName)}`);
    }
    return { kind: 'text', text, fileName: fileName ?? CONFIG_TEXT_NAME, format, named: fileName !== undefined };
  }
  if (fields.hasFile && keys.every((k) => FILE_FIELDS.has(k))) {
    const { file, format } = fields;
    if (typeof file !== 'string' || file === '') throw new SgfilterError('INVALID_ARGUMENT', `${where}({ file }): file must be a path (a non-empty string), got ${describeValue(file)}`);
    if (format !== undefined && format !== 'json' && format !== 'yaml') {
      throw new SgfilterError('INVALID_ARGUMENT', `${where}({ file, format }): format must be "json" or "yaml", got ${describeValue(format)}`);
    }
    return { kind: 'file', path: file, format };
  }
  return { kind: 'object', value: x };
}

/**
 * The document in a `{ text }` source. Text without a format or fileName is read as
 * JSON; when that fails, the message adds how to pass YAML (the usual reason).
 */
export function textSourceDocument(s: Extract<SourceKind, { kind: 'text' }>, where: string): unknown {
  try {
    return parseConfigText(s.text, s.fileName, s.format);
  } catch (e) {
    if (!(e instanceof SgfilterError) || e.code !== 'CONFIG_PARSE' || s.format !== undefined || s.named) throw e;
    throw new SgfilterError('CONFIG_PARSE', `${e.message}\n(${where}({ text }) reads JSON; for YAML text write ${where}({ text, format: 'yaml' }))`, [...e.issues]);
  }
}
