// Attack round atk165, on atk162's fixes (no personal data left; no other person's data
// erased). The byte forms atk162 added (a value's letters as \xHH, octal and
// quoted-printable escapes) were matched as forms of their own: F1 (critical, the opposite
// harm) a made-up Иван erased the bytes of another's Иванов (the escape after the match
// was not read as the word going on), also across a quoted-printable soft line break; F2
// (critical) a made-up single word's byte form split into several words and was erased
// from every table's messages; F3 (major) E'Twaun Moore, a name, read as PostgreSQL's E'
// prefix. The other way: F4 quoted-printable with its blanks kept, F5 its soft line
// breaks, F7 a Python byte string inside JSON (decoded into mojibake), F8 the hex of the
// value's other Unicode form or of a lowered address stayed. Byte escapes are now decoded
// in the message (_decode_byte_runs: runs of valid UTF-8), the hex form is judged as the
// text it spells, and a string's prefix counts only with its closing quote.
// Left: F6 (a line break written \012 or \n inside a value's bytes; control escapes stay
// as written, round atk157 F5).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();

describe('bytes in messages, both ways (atk165)', () => {
  it('F1, F2, F3: a made-up person erases no other person\'s bytes, words or prefixed names', async () => {
    const kept = [
      String.raw`b'\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2'`, // Иванов
      String.raw`\320\230\320\262\320\260\320\275\320\276\320\262`, // Иванов, octal
      '=D0=98=D0=B2=D0=B0=D0=BD=D0=BE=D0=B2', // Иванов, quoted-printable
      "E'Twaun Moore", "R'Bonney Gabriel",
    ];
    const out = await personQuotedInMessages(db, 'a165a', { email: 'ivan.made.up@example.org', name: 'Иван', phone: '+1 555 0199' },
      kept.map((k) => `order refused for ${k} today`));
    for (const { e } of out) expect([e, kept.some((k) => e.includes(k))]).toEqual([e, true]);
    const two = await personQuotedInMessages(db, 'a165b', { email: 'twaun.made.up@example.org', name: 'Twaun Moore', phone: '+1 555 0198' },
      ["order refused for E'Twaun Moore today", "order refused for R'Twaun Moore today"]);
    for (const { e } of two) expect([e, /[ER]'Twaun Moore/.test(e)]).toEqual([e, true]);
    // A single word in bytes is a single word: kept in another table's messages.
    const one = await personQuotedInMessages(db, 'a165c', { email: 'zoe.made.up@example.org', name: 'Zoë', phone: '+1 555 0197' },
      [String.raw`order refused for b'Zo\xc3\xab' today`, String.raw`order refused for Zo\303\253 today`, 'order refused for Zo=C3=AB today']);
    for (const { e, mine } of one) {
      if (!mine) expect([e, /Zo(\\xc3\\xab|\\303\\253|=C3=AB)/.test(e)]).toEqual([e, true]);
    }
  });

  it('F4, F5, F7, F8: quoted-printable as encoders write it, a Python byte string in JSON, other Unicode forms as hex', async () => {
    const out = await personQuotedInMessages(db, 'a165d', { email: 'Zelda.Quux@Example.org', name: 'Zoë Quux', phone: '+44 7700 900124' }, [
      'mail to Zo=C3=AB Quux bounced',
      'mail to Zelda.Quux=40Exa=\nmple.org bounced',
      String.raw`{"detail": "unknown user b'Zo\\xc3\\xab Quux'"}`,
      String.raw`unknown user b'Zoe\xcc\x88 Quux'`,
      String.raw`referrer \x7a656c64612e71757578406578616d706c652e6f7267`,
    ]);
    expect(out).toHaveLength(10);
    for (const { e } of out) {
      expect([e, /Quux|7a656c64612e|Exa=?\s*mple/i.test(e)]).toEqual([e, false]);
    }
  });
});
