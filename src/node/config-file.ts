// Node only: reading config files (JSON, YAML, Tencent Cloud JSON) from disk.
import { parseConfig, safeParseConfigDocuments, type ParseResult } from '../config/parse.js';
import { configError } from '../errors.js';
import type { Config } from '../types.js';
import { configTextOf, parseConfigFileText, readConfigBytes, type ConfigFormat, type FormatChoice } from './config-bytes.js';
import { invalidArgument, oneOf, readOptions } from './options.js';

export { MAX_CONFIG_FILE_BYTES } from './read-file.js';

/** Options of loadConfigFile and safeLoadConfigFile (unknown names are INVALID_ARGUMENT). */
export interface ConfigFileOptions {
  /** 'json' or 'yaml'; by default the name decides: .yaml/.yml is YAML, anything else JSON. */
  format?: ConfigFormat;
}

function formatOption(where: string, options: unknown): ConfigFormat | undefined {
  return readOptions(where, options, { format: oneOf('json', 'yaml') }).format as ConfigFormat | undefined;
}

/**
 * The document in the config file at `path`, for `where` (the function named in
 * hints). CONFIG_PARSE with a sentence when the file cannot be read (issue code
 * FILE_UNREADABLE), is not config text (NOT_CONFIG_TEXT) or does not parse.
 */
export async function readConfigDocument(path: string, format: ConfigFormat | undefined, choose: FormatChoice): Promise<unknown> {
  if (typeof path !== 'string' || path === '') throw invalidArgument(`a config file path must be a non-empty string, got ${typeof path}`);
  return parseConfigFileText(configTextOf(await readConfigBytes(path), path), path, format, choose);
}

const choice = (fn: string): FormatChoice => (f) => `pass { format: '${f}' } to ${fn}`;

/**
 * loadConfigFile for an API that takes `{ file, format? }` (createEngine,
 * compileInWorker, ...): its hints name `where` and that shape.
 */
export async function loadConfigFileFor(where: string, path: string, format: ConfigFormat | undefined): Promise<Config> {
  const choose: FormatChoice = (f) => `write ${where}({ file, format: '${f}' })`;
  return parseConfig(await readConfigDocument(path, format, choose), path);
}

/**
 * Reads and validates a config file (or a list of files that together make one
 * policy, SPEC §9: issues then name their file): YAML when the name ends in .yaml or .yml (or
 * `options.format` says so), JSON otherwise. Rejects with CONFIG_PARSE (unreadable,
 * not config text, not valid JSON/YAML: the message says which, in words; issues
 * with line and column) or CONFIG_INVALID (every issue, with its path).
 */
export async function loadConfigFile(path: string | readonly string[], options?: ConfigFileOptions): Promise<Config> {
  const format = formatOption('loadConfigFile', options);
  const r = await readDocuments(path, format, 'loadConfigFile');
  if (!r.success) throw configError(r.issues, typeof path === 'string' ? path : undefined);
  return r.config;
}

/**
 * Reads one file, or several that together make one policy (SPEC §9: `["policies.json",
 * "templates.json"]`); with several, each issue names its file in `Issue.file`.
 */
async function readDocuments(path: string | readonly string[], format: ConfigFormat | undefined, fn: string): Promise<ParseResult> {
  const paths: unknown[] = Array.isArray(path) ? path : [path];
  if (paths.length === 0) throw invalidArgument(`${fn}: give a config file path, or a non-empty list of the files that make one policy`);
  const documents = [];
  for (const p of paths) documents.push({ document: await readConfigDocument(p as string, format, choice(fn)), ...(paths.length > 1 ? { file: p as string } : {}) });
  return safeParseConfigDocuments(documents);
}

/**
 * Reads a config file (as loadConfigFile) and returns `{ success, config | issues }`
 * instead of rejecting on invalid content; an unreadable file or text that is not
 * JSON / YAML still rejects with CONFIG_PARSE.
 */
export async function safeLoadConfigFile(path: string | readonly string[], options?: ConfigFileOptions): Promise<ParseResult> {
  const format = formatOption('safeLoadConfigFile', options);
  return readDocuments(path, format, 'safeLoadConfigFile');
}
