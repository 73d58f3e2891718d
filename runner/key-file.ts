// Key files a command or the worker reads (the audit signing key, a verifier's public key):
// read up to a bound, so that a path such as /dev/zero is refused instead
// of read forever (round atk97 F10b). A PEM key is a few hundred bytes.
import { open } from 'node:fs/promises';

export const KEY_FILE_MAX = 64 * 1024;

/** The bytes of a key file; an error naming the file when it holds more than KEY_FILE_MAX. */
export async function readKeyFile(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(KEY_FILE_MAX + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > KEY_FILE_MAX) throw new Error(`more than ${KEY_FILE_MAX / 1024} KiB: not a key file`);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
