// A real headless Chromium for tests, driven over the DevTools protocol with Node's own
// WebSocket (no browser library): open a page, evaluate in it, take a screenshot, print
// it to PDF. Debian's `chromium` package (or CHROMIUM=/path) provides the browser.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function chromiumPath(): string | null {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (p && existsSync(p)) return p;
  }
  return null;
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

export interface Page {
  /** Evaluates an expression in the page; returns its value (JSON-serialisable). */
  evaluate: <T>(expression: string) => Promise<T>;
  /** A PNG of the page at the given width: the whole page, or its top `height` pixels. */
  screenshot: (width: number, height?: number) => Promise<Buffer>;
  /** The page printed to PDF (A4). */
  pdf: () => Promise<Buffer>;
}

export interface Browser {
  open: (url: string) => Promise<Page>;
  close: () => Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const exe = chromiumPath();
  if (!exe) throw new Error('no chromium: install Debian\'s chromium package or set CHROMIUM');
  const profile = await mkdtemp(path.join(tmpdir(), 'chromium-'));
  const proc: ChildProcess = spawn(exe, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--no-default-browser-check', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const wsUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err.slice(-500)}`)));
  });
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error('could not connect to chromium')), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, Pending>();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result ?? {});
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });

  return {
    open: async (url) => {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
      await send('Page.enable', {}, sessionId);
      await send('Emulation.setDeviceMetricsOverride', { width: 1000, height: 800, deviceScaleFactor: 1, mobile: false }, sessionId);
      await send('Page.navigate', { url }, sessionId);
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as {
          result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
        if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      };
      for (let i = 0; i < 200 && (await evaluate<string>('document.readyState')) !== 'complete'; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return {
        evaluate,
        screenshot: async (width, top) => {
          const height = top ?? await evaluate<number>('Math.ceil(document.documentElement.scrollHeight)');
          await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
          const { data } = await send('Page.captureScreenshot', { format: 'png' }, sessionId) as { data: string };
          return Buffer.from(data, 'base64');
        },
        pdf: async () => {
          const { data } = await send('Page.printToPDF', { paperWidth: 8.27, paperHeight: 11.69, printBackground: true }, sessionId) as { data: string };
          return Buffer.from(data, 'base64');
        },
      };
    },
    close: async () => {
      ws.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      // Its helper processes can still be writing the profile for a moment after it exits.
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
