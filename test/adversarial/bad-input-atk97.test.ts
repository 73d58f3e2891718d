// Attack round atk97 (bad input gets a clear error and changes nothing), its minor findings
// about texts and counts that evidence keeps:
//  - F1: backup_prune_done took U+202E, BEL and the audit hash's separators, and 100,000
//    characters, into the append-only log, the table and the notification; a backup's name
//    in a listing could hold U+202E;
//  - F6: archive_object_checked took any detail text, and a NULL outcome as a failed check;
//  - F9: backup_prune_intent opened any number of prunings of one backup, each settling as
//    its deletion.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

const listing = JSON.stringify([
  { name: 'b0', taken_at: '2020-01-01T02:00:00Z' },
  { name: 'b1', taken_at: '2020-01-02T02:00:00Z' },
  { name: 'b2', taken_at: new Date().toISOString() },
]);

describe('a pruning\'s texts and count (atk97 F1, F9)', () => {
  it('a second pruning of a backup under way is refused; a store\'s error is kept plain; a note with hidden characters is refused', async () => {
    await q(`select retention.set_backup_policy('bk', 'bk', p_keep_daily => '2 days', p_keep_weekly => '2 days')`);
    const [{ id }] = await q<{ id: number }>(`select retention.backup_prune_intent('bk', $1, 'b0') as id`, [listing]) as [{ id: number }];
    expect(await sqlState(q(`select retention.backup_prune_intent('bk', $1, 'b0')`, [listing]))).toBe('RT039');
    await expect(q(`select retention.backup_prune_intent('bk', $1, 'b0')`, [listing])).rejects.toThrow(`backup b0 of bk is already being pruned (pruning ${id})`);
    expect(await q(`select count(*)::int as n from retention.backup_prunings where backup_name = 'b0'`)).toEqual([{ n: 1 }]);
    // The store's error, with a direction override, a bell and the hash's separators, and long.
    const error = `disk\u202efull\u0007 \u001e\u001f\nsecond line\t${'x'.repeat(100_000)}`;
    await q(`select retention.backup_prune_done($1, $2)`, [id, error]);
    const [p] = await q<{ error: string; status: string }>(`select status, error from retention.backup_prunings where pruning_id = $1`, [id]);
    expect(p!.status).toBe('failed');
    expect(p!.error).toHaveLength(2000);
    expect(p!.error.startsWith('disk\ufffdfull\ufffd \ufffd\ufffd\nsecond line\tx')).toBe(true);
    const [a] = await q<{ e: string }>(`select details ->> 'error' as e from retention.audit_log where action = 'backup.prune_failed' order by audit_id desc limit 1`);
    expect(a!.e).toMatch(/^disk\ufffdfull\ufffd/);
    expect([...a!.e].filter((ch) => ch === '\u202e' || (ch < ' ' && ch !== '\n' && ch !== '\t'))).toEqual([]);
    const [n] = await q<{ e: string }>(`select payload ->> 'error' as e from retention.notifications where kind = 'backup_prune_failed' order by 1 desc limit 1`);
    expect([...n!.e].filter((ch) => ['\u202e', '\u0007', '\u001e'].includes(ch))).toEqual([]);
    // Settled, the backup may be pruned again; a note of the archiver's own with hidden characters is refused.
    const [{ id: id2 }] = await q<{ id: number }>(`select retention.backup_prune_intent('bk', $1, 'b0') as id`, [listing]) as [{ id: number }];
    expect(await sqlState(q(`select retention.backup_prune_done($1, null, $2)`, [id2, 'gone\u202e']))).toBe('RT039');
    expect(await q(`select status from retention.backup_prunings where pruning_id = $1`, [id2])).toEqual([{ status: 'deleting' }]);
    await q(`select retention.backup_prune_done($1, null, 'it was not there any more')`, [id2]);
    expect(await q(`select status from retention.backup_prunings where pruning_id = $1`, [id2])).toEqual([{ status: 'deleted' }]);
  });

  it('a backup\'s name in a listing with a direction override or an invisible character is refused (RT039)', async () => {
    for (const name of ['x\u202ey', 'a\u200bb', '\ufeffb']) {
      const bad = JSON.stringify([{ name, taken_at: '2020-01-01T02:00:00Z' }]);
      expect(await sqlState(q(`select * from retention.backup_plan('bk', $1)`, [bad])), JSON.stringify(name)).toBe('RT039');
    }
  });
});

describe('a verifier\'s record (atk97 F6)', () => {
  it('archive_object_checked refuses a NULL outcome (RT006) and keeps its detail plain', async () => {
    const [o] = await q<{ object_id: number }>(`insert into retention.archive_objects (object_key, target, created_by, status, tables, rows)
                                                 values ('atk97-f6', 'file:///nowhere', 'test', 'verified', '{}', 0) returning object_id`);
    const before = await q(`select count(*)::int as n from retention.audit_log`);
    expect(await sqlState(q(`select retention.archive_object_checked($1, null, null)`, [o!.object_id]))).toBe('RT006');
    expect(await q(`select count(*)::int as n from retention.audit_log`)).toEqual(before);
    await q(`select retention.archive_object_checked($1, false, $2)`, [o!.object_id, `bad\u202e\u0007${'d'.repeat(100_000)}`]);
    const [a] = await q<{ action: string; d: string }>(`select action, details ->> 'detail' as d from retention.audit_log order by audit_id desc limit 1`);
    expect(a!.action).toBe('archive.object_check_failed');
    expect(a!.d).toHaveLength(500);
    expect(a!.d.startsWith('bad\ufffd\ufffdddd')).toBe(true);
  });
});
