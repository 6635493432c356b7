import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the service keeps on disk – the embedded database with its WAL and shared-memory files, the
 * generated master key, the bootstrap admin's token – is for the service's own user only: folders it
 * creates are 0700, files 0600, whatever the process umask.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` and any missing parent with mode 0700. A folder that exists already keeps its mode:
 * it may be shared (a temp dir, a mounted volume) and is the operator's to set.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Prepares the embedded SQLite database at `file` so that no one but the owner can read it: its folder
 * as ensurePrivateDir; the database file created empty with mode 0600 when missing (an empty file is an
 * empty database); an existing database, WAL or shared-memory file of ours narrowed to 0600. SQLite creates its
 * WAL, shared-memory and journal files with the mode of the database file, so they are 0600 from their
 * first byte on.
 */
export function preparePrivateSqliteFile(file: string): void {
  ensurePrivateDir(path.dirname(file));
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) narrowToPrivate(f);
}

/**
 * Sets an existing file of ours to 0600 (one an earlier version left readable to others). A missing
 * file, or another user's file the operator lets us use, is left as it is.
 */
export function narrowToPrivate(file: string): void {
  try {
    fs.chmodSync(file, PRIVATE_FILE_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EPERM') throw e;
  }
}
