// Plain-text tables for terminals: column widths from the data, numbers right-aligned.

/** Text for a terminal: control characters (an escape sequence in a description could move
 * the cursor and overwrite what was printed) shown as \xNN. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
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
