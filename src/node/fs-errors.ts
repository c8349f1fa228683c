/**
 * Node only: a file system error (errno codes such as ENOENT, EISDIR, EACCES) as a
 * sentence a person can act on, naming the file: "policy.yaml does not exist",
 * "policy.yaml is a folder, not a file", "cannot read policy.yaml: permission denied".
 * Used wherever the CLI, loadConfigFile or watchConfig read or write a file, so that
 * no raw errno text ("ENOENT: no such file or directory, open 'x'") reaches a user.
 */

import { SgfilterError } from '../errors.js';

/** What was being done to the file: the verb of "cannot read x" / "cannot write x". */
export type FileAction = 'read' | 'write' | 'open' | 'watch';

/** The errno code of `e` (ENOENT, ...), or undefined when `e` is not a system error. A FILE_ACCESS error answers its cause's. */
export function errnoCode(e: unknown): string | undefined {
  if (e instanceof SgfilterError && e.code === 'FILE_ACCESS') return errnoCode(e.cause);
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * "x does not exist", "cannot read x: permission denied", ... for a system error `e`
 * raised while doing `action` to the file `path` (as the user named it). An error
 * without a known code keeps its own message, without the errno prefix and the
 * "open 'x'" tail Node adds.
 */
export function fileErrorText(e: unknown, path: string, action: FileAction = 'read'): string {
  const code = errnoCode(e);
  if (e instanceof SgfilterError && e.code === 'FILE_ACCESS') e = e.cause;
  switch (code) {
    case 'ENOENT':
      return action === 'write' ? `cannot write ${path}: its folder does not exist` : `${path} does not exist`;
    case 'ENOTDIR':
      return `${path}: part of the path is a file, not a folder`;
    case 'EISDIR':
      return `${path} is a folder, not a file`;
    case 'EACCES':
    case 'EPERM':
      return `cannot ${action} ${path}: permission denied`;
    case 'EMFILE':
    case 'ENFILE':
      return `cannot open ${path}: too many open files (the limit is set by ulimit -n)`;
    case 'ENOSPC':
      return `cannot write ${path}: no space left on the device`;
    case 'EDQUOT':
      return `cannot write ${path}: disk quota exceeded`;
    case 'EROFS':
      return `cannot write ${path}: the file system is read-only`;
    case 'ELOOP':
      return `${path}: too many symbolic links (a link that points back to itself?)`;
    case 'ENAMETOOLONG':
      return `${path}: the file name is too long`;
    case 'EIO':
      return `cannot ${action} ${path}: input/output error (a failing disk or network file system)`;
    case 'EBUSY':
      return `cannot ${action} ${path}: the file is busy`;
    case 'ETXTBSY':
      return `cannot write ${path}: the file is a program that is running`;
    case 'EFBIG':
      return `cannot write ${path}: the file is too large for the file system`;
    default: {
      // "EXDEV: cross-device link not permitted, rename 'a' -> 'b'" → "cross-device link not permitted".
      const message = e instanceof Error ? e.message : String(e);
      const plain = code ? message.replace(new RegExp(`^${code}: `), '').replace(/, \w+ '.*$/s, '') : message;
      return `cannot ${action} ${path}: ${plain}`;
    }
  }
}

/**
 * A system error `e` raised while doing `action` to `path`, as the coded error the
 * library's file APIs throw: FILE_ACCESS, the sentence of fileErrorText, the system
 * error as `cause`. An SgfilterError passes through unchanged.
 */
export function fileAccessError(e: unknown, path: string, action: FileAction, where: string): unknown {
  if (e instanceof SgfilterError) return e;
  const error = new SgfilterError('FILE_ACCESS', `${where}: ${fileErrorText(e, path, action)}`);
  error.cause = e;
  return error;
}
