// A file:// URL as a local directory, one rule for every place that takes one (archive
// storage, object targets, backup stores): the host empty or localhost, the path
// percent-decoded, no encoded slash. Anything else is the caller's configuration error,
// never Node's TypeError (round atk83 F6: file://nas/backups became the local /backups).
import { fileURLToPath } from 'node:url';

export function fileUrlPath(url: string, fail: (message: string) => Error): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail(`not a valid file URL: ${JSON.stringify(url)} (expected file:///absolute/path)`);
  }
  if (u.host !== '' && u.host !== 'localhost') {
    throw fail(`file URL ${JSON.stringify(url)} names the host ${JSON.stringify(u.host)}: only local directories (file:///path); mount a network share and give its local path`);
  }
  try {
    return fileURLToPath(u);
  } catch (err) {
    throw fail(`file URL ${JSON.stringify(url)}: ${(err as Error).message} (expected file:///absolute/path)`);
  }
}
