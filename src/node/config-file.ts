// Node only: reading config files (JSON, YAML, Tencent Cloud JSON) from disk.
import { readFile } from 'node:fs/promises';
import { SgfilterError } from '../errors.js';
import { parseConfig, parseConfigText, safeParseConfig, type ParseResult } from '../config/parse.js';
import type { Config } from '../types.js';

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new SgfilterError('CONFIG_PARSE', `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, [
      { code: 'PARSE_ERROR', path: [], message: `cannot read ${path}` },
    ]);
  }
}

/**
 * Reads and validates a config file: YAML when the name ends in .yaml or .yml, JSON
 * otherwise. Rejects with CONFIG_PARSE (unreadable file, or text that is not JSON /
 * YAML: issues with line and column) or CONFIG_INVALID (every issue, with its path).
 */
export async function loadConfigFile(path: string): Promise<Config> {
  return parseConfig(parseConfigText(await readText(path), path), path);
}

/**
 * Reads a config file (as loadConfigFile) and returns `{ success, config | issues }`
 * instead of rejecting on invalid content; an unreadable file or text that is not
 * JSON / YAML still rejects with CONFIG_PARSE.
 */
export async function safeLoadConfigFile(path: string): Promise<ParseResult> {
  return safeParseConfig(parseConfigText(await readText(path), path));
}
