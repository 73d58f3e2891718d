// deploy/: the alert rules checked and unit-tested by promtool (Debian's prometheus
// package; CI installs it and requires it), every metric the rules and the Grafana
// dashboard name exported by a real worker, and the Kubernetes manifests consistent with
// the worker's defaults.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../runner/config.ts';
import { scheduleInterval } from '../runner/scheduler.ts';
import { installJobSchema } from '../runner/migrate.ts';
import { useTestDatabase } from './support/db.ts';
import { startWorker } from './support/worker.ts';

const db = useTestDatabase();
const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const promtoolRequired = process.env.RETENTION_REQUIRE_PROMTOOL === '1';

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: 'deploy/prometheus' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The metric names a PromQL expression selects (identifiers followed by a selector, an
 * offset, a range or the end, that are not functions or keywords). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(pg_retention_[a-z_]+)\b/g)].map((m) => m[1]!)
    .map((n) => n.replace(/_(bucket|sum|count)$/, (s) => (n.includes('duration_seconds') ? '' : s)));
}

describe('alert rules', () => {
  it.skipIf(!promtool && !promtoolRequired)('pass promtool check rules and promtool test rules', { timeout: 60_000 }, () => {
    expect(promtool, 'promtool (Debian package prometheus)').toBeTruthy();
    const check = run(promtool!, ['check', 'rules', 'alerts.yml']);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toMatch(/SUCCESS: 8 rules found/);
    const tests = run(promtool!, ['test', 'rules', 'alerts-schedule.test.yml', 'alerts.test.yml']);
    expect(tests.code, tests.out).toBe(0);
    expect(tests.out).toMatch(/SUCCESS/);
  });

  it.skipIf(!promtool && !promtoolRequired)('the unit tests can fail: the old "8 days" rule does not pass them', { timeout: 60_000 }, async () => {
    const { mkdtemp, writeFile, copyFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'alerts-'));
    try {
      const rules = readFileSync('deploy/prometheus/alerts.yml', 'utf8').replace(
        /time\(\) - max by \(policy\) \(pg_retention_last_success_timestamp_seconds or pg_retention_policy_created_timestamp_seconds\)\n\s+> 2 \* max by \(policy\) \(pg_retention_policy_schedule_interval_seconds\) \+ 3600/,
        'time() - max by (policy) (pg_retention_last_success_timestamp_seconds) > 8 * 86400');
      expect(rules).toContain('> 8 * 86400');
      await writeFile(path.join(dir, 'alerts.yml'), rules);
      await copyFile('deploy/prometheus/alerts-schedule.test.yml', path.join(dir, 'alerts-schedule.test.yml'));
      const r = spawnSync(promtool!, ['test', 'rules', 'alerts-schedule.test.yml'], { encoding: 'utf8', cwd: dir });
      expect(r.status).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/RetentionNoSuccessfulRun/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('what the rules and the dashboard name, a real worker exports', () => {
  it('every metric of alerts.yml and of the Grafana dashboard is on /metrics, run counters from 0', async () => {
    await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.dep (id int primary key, created_at timestamptz not null)`);
    await db.q(`select retention.set_policy('app.dep', 'app.dep', 'delete', 'created_at', p_retain => '30 days', p_schedule => '0 3 1 * *')`);
    const w = startWorker({ DATABASE_URL: db.url, PG_RETENTION_ACTOR: 'deploy-test' });
    try {
      await w.waitFor((l) => l.msg === 'worker ready', 30_000);
      let body = '';
      for (let i = 0; i < 50 && !/pg_retention_policy_schedule_interval_seconds\{/.test(body); i++) {
        body = (await w.get('/metrics')).body;
        await new Promise((r) => setTimeout(r, 100));
      }
      const exported = new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
      const rules = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: { rules: { expr: string }[] }[] };
      const dashboard = JSON.parse(readFileSync('deploy/grafana/pg-retention.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
      const named = new Set([
        ...rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr))),
        ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))),
      ]);
      expect(named.size).toBeGreaterThan(12);
      for (const m of named) expect(exported.has(m), m).toBe(true);
      // Set for the enabled policy: its schedule's interval (monthly: 31 days at most), its
      // creation, its run counters at 0 for every status, and the worker ready.
      expect(body).toMatch(/^pg_retention_policy_schedule_interval_seconds\{policy="app\.dep"\} 2678400$/m);
      expect(body).toMatch(/^pg_retention_policy_created_timestamp_seconds\{policy="app\.dep"\} \d+/m);
      expect(body).toMatch(/^pg_retention_runs_total\{policy="app\.dep",status="failed"\} 0$/m);
      expect(body).toMatch(/^pg_retention_runs_total\{policy="app\.dep",status="refused"\} 0$/m);
      expect(body).toMatch(/^pg_retention_worker_ready 1$/m);
    } finally {
      w.proc.kill('SIGTERM');
      await w.exited;
    }
  }, 60_000);

  it('a schedule\'s interval is its longest gap between occurrences', () => {
    const from = new Date('2026-12-01T12:00:00Z');
    expect(scheduleInterval('0 2 * * *', 'UTC', from)).toBe(86400);
    expect(scheduleInterval('0 4 1 * *', 'UTC', from)).toBe(31 * 86400);
    expect(scheduleInterval('0 0 1,15 * *', 'UTC', from)).toBe(17 * 86400); // the 15th to the 1st of a 31-day month
    expect(scheduleInterval('0 3 * * 0', 'Europe/Berlin', from)).toBe(7 * 86400);
    // Over the change to summer time a Berlin week is an hour short; the longest gap stays a week.
    expect(scheduleInterval('0 3 * * 0', 'Europe/Berlin', new Date('2027-03-01T00:00:00Z'))).toBe(7 * 86400);
    expect(scheduleInterval('not a schedule', 'UTC', from)).toBeNull();
  });
});

describe('Kubernetes manifests', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML
  const docs = (f: string) => parseAllDocuments(readFileSync(`deploy/kubernetes/${f}`, 'utf8')).map((d) => d.toJS() as Record<string, any>);

  it('parse, are listed in the kustomization, and agree with the worker\'s defaults', () => {
    const k = docs('kustomization.yaml')[0]!;
    for (const f of k.resources as string[]) expect(existsSync(`deploy/kubernetes/${f}`), f).toBe(true);
    const [dep] = docs('deployment.yaml');
    const spec = dep!.spec.template.spec;
    const cfg = loadConfig({ DATABASE_URL: 'postgres://x@db/app' });
    // The orchestrator waits longer than the worker's shutdown grace.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(cfg.shutdownGraceMs / 1000);
    expect(dep!.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(cfg.httpPort));
    const c = spec.containers[0];
    expect(c.ports[0].containerPort).toBe(cfg.httpPort);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    // Settings the config map gives are settings the worker knows.
    const [cm] = docs('configmap.yaml');
    // (The webhook's secret comes from the Secret.)
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@db/app', PG_RETENTION_WEBHOOK_SECRET: 'x'.repeat(32), ...cm!.data })).not.toThrow();
    // Labels select the pods the scrape configuration keeps.
    const scrape = parse(readFileSync('deploy/prometheus/scrape.yml', 'utf8')) as { scrape_configs: { relabel_configs?: { regex: string; source_labels: string[] }[] }[] };
    const keep = scrape.scrape_configs[0]!.relabel_configs![0]!;
    expect(keep.source_labels).toEqual(['__meta_kubernetes_pod_label_app_kubernetes_io_name']);
    expect(dep!.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(keep.regex);
  });
});
