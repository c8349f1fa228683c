/**
 * Node only: keep an engine's policy in step with a config file. The file's
 * directory is watched (not the file: editors that save by writing a new file and
 * renaming it over the old one would end a watch on the file itself); events for
 * the file are debounced, then the file is read and validated. A valid file is
 * published with engine.reload; an unreadable, unparsable or invalid one (or one
 * that does not compile) leaves the running policy in place and is reported with
 * every issue and its path. A save that leaves the content as it was last seen
 * publishes nothing. Several files that together make one policy (SPEC §9: policies
 * beside their template outputs) are watched together: a change to any of them reads
 * and validates all of them, and publishes them as one policy.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SgfilterError, configError } from '../errors.js';
import { safeParseConfigDocuments } from '../config/parse.js';
import type { Engine } from '../engine.js';
import { checkEngine, invalidArgument, isFunction, isNonEmptyString, milliseconds, oneOf, readOptions, shown } from './options.js';
import { configTextOf, parseConfigFileText, readConfigBytes, type ConfigFormat } from './config-bytes.js';
import { errnoCode, fileErrorText } from './fs-errors.js';

/** watchConfig's options (unknown names and wrong kinds are INVALID_ARGUMENT). */
export interface WatchOptions {
  /** Quiet time after the last file event before the file is read. Default 200 ms. */
  debounceMs?: number;
  /** 'json' or 'yaml'; by default the file name decides (.yaml/.yml is YAML, anything else JSON). */
  format?: ConfigFormat;
  /** After each publish: the new version and the one it replaced. */
  onReload?: (event: { version: number; previousVersion: number; path: string }) => void;
  /**
   * When a changed file is refused (the running policy stays; without onError it
   * becomes a process warning): an SgfilterError —
   * CONFIG_INVALID / CONFIG_PARSE with `.issues` (each with its path), or
   * TABLE_TOO_LARGE — or a watcher error.
   */
  onError?: (error: SgfilterError | Error) => void;
}

/** A running watch of a config file (watchConfig). */
export interface ConfigWatcher {
  /** The absolute path watched (the first, when several files make the policy). */
  readonly path: string;
  /** Every absolute path watched, in the order given. */
  readonly paths: readonly string[];
  /** Stops watching; a read in progress finishes but publishes nothing. */
  close(): void;
}

/**
 * Watches the config file at `path` and reloads `engine` from it after each change.
 * Does not load the file at start: create the engine from it first.
 *
 * Throws INVALID_ARGUMENT when `path` names no file (a watcher on a missing file
 * would wait silently for a file that may never come), when its folder cannot be
 * watched, or for an option that is unknown or of the wrong type. Once running, a
 * file that disappears for a moment (an editor's delete-then-write) is waited for.
 */
export function watchConfig(path: string | readonly string[], engine: Engine, options: WatchOptions = {}): ConfigWatcher {
  const given: unknown[] = Array.isArray(path) ? path : [path];
  if (given.length === 0) throw invalidArgument('watchConfig: path must be a config file, or a non-empty list of the files that make one policy, got an empty list');
  for (const p of given) {
    const allowed = isNonEmptyString(p);
    if (allowed !== undefined) throw invalidArgument(`watchConfig: path must be ${allowed} (the config file), got ${shown(p)}`);
  }
  checkEngine('watchConfig', engine);
  const opts = readOptions('watchConfig', options, { debounceMs: milliseconds(0), format: oneOf('json', 'yaml'), onReload: isFunction, onError: isFunction }) as WatchOptions;
  const files = [...new Set((given as string[]).map((p) => resolve(p)))];
  const file = files[0]!;
  for (const f of files) {
    let stat;
    try {
      stat = statSync(f);
    } catch (e) {
      const code = errnoCode(e);
      throw invalidArgument(
        code === 'ENOENT' || code === 'ENOTDIR'
          ? `watchConfig: the config file ${f} does not exist; create the engine from an existing file, then watch it`
          : `watchConfig: ${fileErrorText(e, f)}`,
      );
    }
    if (!stat.isFile()) throw invalidArgument(`watchConfig: ${f} is ${stat.isDirectory() ? 'a folder, not a file' : 'not a regular file (a FIFO or a device)'}; a config file is watched`);
  }
  const debounceMs = (Object.hasOwn(opts, 'debounceMs') ? opts.debounceMs : undefined) ?? 200; // own option only
  const report = (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    if (opts.onError) opts.onError(err);
    else process.emitWarning(err.message, 'SgfilterWatchWarning');
  };

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let lastText: string | undefined;

  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await check();
      } while (again && !closed);
    } finally {
      running = false;
    }
  };

  const check = async (): Promise<void> => {
    const all: Buffer[] = [];
    for (const f of files) {
      try {
        // A regular file only, opened without blocking: a FIFO or device put in its place
        // is reported, and the next save is read as usual (src/node/read-file.ts).
        all.push(await readConfigBytes(f));
      } catch (e) {
        // Between an editor's delete and its write: the next event reloads.
        if (closed || (e instanceof SgfilterError && e.issues[0]?.code === 'FILE_UNREADABLE' && !existsNow(f))) return;
        report(e);
        return;
      }
    }
    if (closed) return;
    // Compared only: the same bytes, the same text (lengths first, so two files cannot pass for one).
    const text = all.map((b) => `${b.length}:${b.toString('latin1')}`).join('');
    if (text === lastText) return;
    lastText = text;
    try {
      const documents = all.map((bytes, i) => ({ document: parseConfigFileText(configTextOf(bytes, files[i]!), files[i]!, opts.format, (f) => `pass { format: '${f}' } to watchConfig`), ...(files.length > 1 ? { file: files[i]! } : {}) }));
      const r = safeParseConfigDocuments(documents);
      if (!r.success) throw configError(r.issues, files.length > 1 ? undefined : file);
      if (closed) return;
      const previousVersion = engine.version;
      const version = await engine.reload(r.config);
      opts.onReload?.({ version, previousVersion, path: file });
    } catch (e) {
      report(e);
    }
  };

  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, debounceMs);
  };

  /** Whether the file is there (after a failed read: gone means an editor is between delete and write). */
  const existsNow = (p: string): boolean => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  };

  // One watcher per folder, for the files of the policy in it.
  const folders = new Map<string, Set<string>>();
  for (const f of files) {
    const names = folders.get(dirname(f));
    if (names) names.add(basename(f));
    else folders.set(dirname(f), new Set([basename(f)]));
  }
  const watchers: FSWatcher[] = [];
  for (const [folder, names] of folders) {
    try {
      const w = watch(folder, { persistent: true }, (_event, changed) => {
        // Some platforms do not say which file changed: then check ours.
        if (changed === null || changed === undefined || names.has(String(changed))) schedule();
      });
      w.on('error', (e) => report(e));
      watchers.push(w);
    } catch (e) {
      for (const w of watchers) w.close();
      throw new SgfilterError('INVALID_ARGUMENT', `watchConfig: ${fileErrorText(e, folder, 'watch')}`);
    }
  }

  return {
    path: file,
    paths: files,
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
