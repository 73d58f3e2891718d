// Plain-text tables for terminals: column widths from the data, numbers right-aligned.
export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = columns ?? Object.keys(rows[0] ?? {});
  const text = (v: unknown): string =>
    v === null || v === undefined ? '' : v instanceof Date ? v.toISOString().replace('.000Z', 'Z') : String(v);
  const numeric = cols.map((c) => rows.every((r) => r[c] === null || /^-?\d+(\.\d+)?$/.test(text(r[c]))));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (vals: string[]) => vals.map(pad).join('  ').trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cols.map((c) => text(r[c]))))].join('\n');
}
