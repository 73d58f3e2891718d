// Plain-text tables for terminals: column widths from the data, numbers right-aligned.

/** Text for a terminal: control characters (an escape sequence in a description could move
 * the cursor and overwrite what was printed) shown as \xNN; characters that change the
 * direction of text or are invisible (U+202E would print "mallory" followed by anything
 * reversed; a zero-width space makes two names look alike) shown as \u{NNNN}. */
export function printable(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g,
      (c) => `\\u{${c.charCodeAt(0).toString(16).padStart(4, '0')}}`);
}

export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = columns ?? Object.keys(rows[0] ?? {});
  const text = (v: unknown): string =>
    v === null || v === undefined ? '' : v instanceof Date ? v.toISOString().replace('.000Z', 'Z') : printable(String(v));
  const numeric = cols.map((c) => rows.every((r) => r[c] === null || /^-?\d+(\.\d+)?$/.test(text(r[c]))));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (vals: string[]) => vals.map(pad).join('  ').trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cols.map((c) => text(r[c]))))].join('\n');
}
