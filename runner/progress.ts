// Progress of a running batch procedure, fed by its RAISE NOTICE lines. On a terminal:
// one redrawn bar (rows done of eligible, rows/s, ETA, batches). Otherwise: a plain
// line at most every few seconds, and the last one always.
const BATCH = /batch (\d+) (\d+) rows in ([\d.]+) ms \((\d+) of (\d+) done\)/;

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
  notice(text: string): number | undefined {
    const started = /run (\d+) (started|\(dry run\))/.exec(text);
    const m = BATCH.exec(text);
    if (started) this.started = Date.now(); // rates count from the first batch, not the count phase
    if (!m) {
      if (this.tty) this.stream.write('\r\x1b[2K');
      this.flush();
      this.stream.write(`${text}\n`);
      return started ? Number(started[1]) : undefined;
    }
    const [, batches, , , done, total] = m.map(Number) as number[];
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? done! / secs : 0;
    const eta = rate > 0 ? Math.max(0, (total! - done!) / rate) : 0;
    if (this.tty) {
      const width = 30;
      const filled = total ? Math.round((width * done!) / total) : width;
      this.stream.write(
        `\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} rows  ` +
          `${Math.round(rate)} rows/s  ETA ${eta.toFixed(0)}s  batch ${batches}`,
      );
      return undefined;
    }
    const line = `progress: ${done}/${total} rows, ${Math.round(rate)} rows/s, ETA ${eta.toFixed(0)}s, ${batches} batches`;
    if (Date.now() - this.lastPrint >= this.intervalMs) {
      this.stream.write(`${line}\n`);
      this.lastPrint = Date.now();
      this.pending = null;
    } else {
      this.pending = line;
    }
    return undefined;
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
