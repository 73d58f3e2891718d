// Progress of a running batch procedure, fed by its NOTICEs: the batch notices carry their
// figures as JSON in DETAIL ({"progress": "pg-retention", "batches", "rows_done",
// "rows_total", ...}; the server sends one every few seconds at most), read from there, not
// from the wording. On a terminal: one redrawn bar (rows done of eligible, rows/s, ETA,
// batches). Otherwise: a plain line at most every few seconds, and the last one always.
interface ProgressDetail { progress: 'pg-retention'; batches: number; rows_done: number; rows_total: number; final?: boolean; mode?: string }

function progressDetail(detail: string | undefined): ProgressDetail | null {
  if (!detail?.startsWith('{')) return null;
  try {
    const d = JSON.parse(detail) as Partial<ProgressDetail>;
    return d.progress === 'pg-retention' && typeof d.rows_done === 'number' && typeof d.rows_total === 'number'
      && typeof d.batches === 'number' ? d as ProgressDetail : null;
  } catch {
    return null;
  }
}

export class Progress {
  private started = Date.now();
  private lastPrint = 0;
  private pending: string | null = null;
  private readonly tty: boolean;
  private readonly stream: NodeJS.WriteStream;
  private readonly intervalMs: number;

  constructor(stream: NodeJS.WriteStream = process.stderr, intervalMs = Number(process.env.PG_RETENTION_PROGRESS_MS ?? 3000)) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.intervalMs = intervalMs;
  }

  /** Feed one notice; returns the run id when the notice announces a run. */
  notice(text: string, detail?: string): number | undefined {
    const started = /run (\d+) (started|\(dry run\))/.exec(text);
    let d = progressDetail(detail);
    if (started) this.started = Date.now(); // rates count from the first batch, not the count phase
    if (d?.final) {
      // The run's last word: its figures as the last progress line (a live run's), then its text.
      if (d.mode === 'live' && d.batches > 0) {
        this.pending = null;
        this.lastPrint = 0;
        this.progressLine(d);
      }
      d = null;
    }
    if (!d) {
      if (this.tty) this.stream.write('\r\x1b[2K');
      this.flush();
      this.stream.write(`${text}\n`);
      return started ? Number(started[1]) : undefined;
    }
    this.progressLine(d);
    return undefined;
  }

  private progressLine(d: ProgressDetail): void {
    const { batches, rows_done: done, rows_total: total } = d;
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    if (this.tty) {
      const width = 30;
      const filled = total ? Math.min(width, Math.round((width * done) / total)) : width;
      this.stream.write(
        `\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} rows  ` +
          `${Math.round(rate)} rows/s  ETA ${eta.toFixed(0)}s  batch ${batches}`,
      );
      return;
    }
    const line = `progress: ${done}/${total} rows, ${Math.round(rate)} rows/s, ETA ${eta.toFixed(0)}s, ${batches} batches`;
    if (Date.now() - this.lastPrint >= this.intervalMs) {
      this.stream.write(`${line}\n`);
      this.lastPrint = Date.now();
      this.pending = null;
    } else {
      this.pending = line;
    }
  }

  flush(): void {
    if (this.pending) this.stream.write(`${this.pending}\n`);
    this.pending = null;
  }

  end(): void {
    if (this.tty) this.stream.write('\n');
    this.flush();
  }
}
