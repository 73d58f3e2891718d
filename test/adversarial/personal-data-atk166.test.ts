// Attack round atk166, on atk165's fixes (no personal data left; no other person's data
// erased). F1 (critical): a Python byte string that goes on after the name
// (b'Zo\xc3\xab Quux <x@y.org>') kept it: a prefix's quote may close later on the line.
// F2: SQL's N'...' and Python's rb'...'. F3 (critical): quoted-printable soft line breaks
// in ASCII text (and escaped in JSON) stayed. F4 (critical, both ways): one byte that is
// not UTF-8 (a NUL pad) kept the whole run from being read, and the name before it was
// then erased out of another's longer one. F5 (critical, the opposite harm): the
// percent-encoded and \u forms of a made-up single word (José) were judged several words
// and erased from every table. F6: 'E'Twaun Moore', a name in the application's quotes.
// F7: a made-up Maria Jose erased NFD Maria José, leaving its accent. Left: =40 is read as
// @ wherever it stands (a made-up size@x40.png erases size=40x40.png; an address in
// quoted-printable matters more).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();

describe('messages after an erasure, on atk165\'s fixes (atk166)', () => {
  it('F1, F2, F3, F4: byte strings that go on, N\'\' and rb\'\', soft line breaks, a NUL pad', async () => {
    const out = await personQuotedInMessages(db, 'a166a', { email: 'zelda.quux@example.org', name: 'Zoë Quux', phone: '+44 7700 900125' }, [
      String.raw`b'Zo\xc3\xab Quux <x@y.org>' refused`,
      "sql N'Zoë Quux' and rb'Zoë Quux' refused",
      'see zelda.quux@exa=\nmple.org',
      String.raw`{"body":"see zelda.quux=40exa=\nmple.org"}`,
      String.raw`b'Zo\xc3\xab Quux\x00\x00' refused`,
    ]);
    expect(out).toHaveLength(10);
    for (const { e } of out) expect([e, /quux|Qu=|exa=/i.test(e)]).toEqual([e, false]);
    // A name broken by a soft line break in ASCII text.
    const ascii = await personQuotedInMessages(db, 'a166f', { email: 'zq2@example.org', name: 'Zelda Quuxley', phone: '+44 7700 900126' },
      ['Dear Zelda Quux=\nley, your order', 'Dear Zelda Quux=\r\nley, your order']);
    for (const { e } of ascii) expect([e, /quux/i.test(e)]).toEqual([e, false]);
  });

  it('F4, F5, F6, F7: a made-up person erases nobody else\'s longer name, single word, quoted name or accent', async () => {
    const kept = [String.raw`Zo\303\253 Quux\303\251\000\000`, 'Zo=C3=AB Quux=C3=A9=00'];
    const a = await personQuotedInMessages(db, 'a166b', { email: 'zq.made.up@example.org', name: 'Zoë Quux', phone: '+1 555 0191' },
      kept.map((k) => `refused ${k} today`));
    for (const { e } of a) expect([e, kept.some((k) => e.includes(k))]).toEqual([e, true]);
    // Single words in another table's messages, in percent and \u forms.
    const words = ['q=Jos%C3%A9', String.raw`{"name":"Jos\u00e9"}`];
    const b = await personQuotedInMessages(db, 'a166c', { email: 'jose.made.up@example.org', name: 'José', phone: '+1 555 0192' },
      words.map((w) => `refused ${w} today`));
    for (const { e, mine } of b) if (!mine) expect([e, words.some((w) => e.includes(w))]).toEqual([e, true]);
    const c = await personQuotedInMessages(db, 'a166d', { email: 'twaun.made.up@example.org', name: 'Twaun Moore', phone: '+1 555 0193' },
      ["user 'E'Twaun Moore' is locked", "E'Twaun Moore's account is locked"]);
    for (const { e } of c) expect([e, e.includes("E'Twaun Moore")]).toEqual([e, true]);
    const nfd = 'Maria Jose\u0301 Garcia';
    const d = await personQuotedInMessages(db, 'a166e', { email: 'maria.made.up@example.org', name: 'Maria Jose', phone: '+1 555 0194' },
      [`refused ${nfd} today`]);
    for (const { e } of d) expect([e, e.includes(nfd)]).toEqual([e, true]);
  });
});
