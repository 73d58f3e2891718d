// Files of personal data a command writes (a subject export, an archive export): new
// files only, readable by their owner alone.
import { open } from 'node:fs/promises';
import { UsageError } from './errors.ts';

/** Writes a new file, owner-only (0600); refuses to write through an existing file or
 * link (O_EXCL: a symlink another user laid out is not followed). */
export async function writeNew(file: string, text: string): Promise<void> {
  let fh;
  try {
    fh = await open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${file} exists: an export writes only new files`, 'give --out an empty or new directory');
    }
    throw err;
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}
