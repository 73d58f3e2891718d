// Attack round atk157 (messages after an erasure, both ways), on atk154's fixes. F1
// (critical, the opposite harm): the apostrophe rule saw only a raw ' or ’; written
// &#39; &apos; \\' &rsquo; or SQL's doubled '', a made-up brien@example.org still erased
// o'brien@example.org from every message. F4 (major): a zero-width space inside the
// person's address kept it. F5 (major, the opposite harm): \\n decoded to a line break made
// CORP\\nina.ross@example.com show a made-up ina.ross@example.com. F6 (minor): a Greek
// value over 1,000 characters quoted with a final ς stayed.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;


describe('messages after an erasure, on atk154\'s fixes (atk157)', () => {
  it('F1, F5: a made-up person does not erase another\'s address behind an escaped apostrophe, nor out of a login with \\n', async () => {
    const out = await personQuotedInMessages(db, 'a157a', { email: 'brien@example.org', name: 'Angelo Russo', phone: '+1 555 0199' }, [
      'mail to o&#39;brien@example.org bounced',
      String.raw`mail to o\'brien@example.org and 'o''brien@example.org' bounced`,
      'card for D&rsquo;Angelo Russo and D&apos;Angelo Russo',
      String.raw`login 'CORP\nbrien@example.org' failed`,
    ]);
    const all = out.map((f) => f.e).join('\n');
    for (const kept of ['o&#39;brien@example.org', String.raw`o\'brien@example.org`, "'o''brien@example.org'", 'D&rsquo;Angelo Russo',
                        'D&apos;Angelo Russo', String.raw`CORP\nbrien@example.org`]) {
      expect([kept, all.includes(kept)]).toEqual([kept, true]);
    }
  });

  it('F4: a zero-width space or soft hyphen inside the person\'s address does not keep it', async () => {
    const out = await personQuotedInMessages(db, 'a157b', { email: 'zelda.quux@example.org', name: 'Zelda Quuxington', phone: '+44 7700 900123' }, [
      'to zelda.quux\u200b@example.org bounced',
      'to zel\u00adda.quux@example.org bounced',
    ]);
    for (const { e } of out) expect([e, e.includes('quux')]).toEqual([e, false]);
  });

  it('F6: a value over 1,000 characters is cut out with any sigma for any sigma', async () => {
    const v = `${'α'.repeat(1000)} τέλοσ`;
    const [r] = await q<{ r: string }>(`select retention_internal._erase_in($1, array[$2], '[erased]', 'bare') as r`,
                                       [`said ${'Α'.repeat(1000)} ΤΈΛΟΣ and ${'α'.repeat(1000)} τέλος.`, v]);
    expect(r!.r).toBe('said [erased] and [erased].');
  });
});
