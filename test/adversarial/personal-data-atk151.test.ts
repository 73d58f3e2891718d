// Attack round atk151 (a completed erasure leaves none of the person in pg-retention's
// messages). Each message below was raised by an application's trigger in a failed row of
// a policy's run, on the person's own table and on a table outside the erasure's plan, and
// stayed after the erasure completed: F1 the address in JSON inside JSON
// (zelda.quux\\u0040example.org: the decoder left the escaping backslash); F2 the phone as
// an SMS API writes it (+447700900123); F3 the name wrapped across lines, with two blanks
// or a no-break space; F4 the key or address glued into a longer token (/users/4242424.json,
// user_4242424, …@example.org_2026.json); F5 an HTML numeric entity (&#64;). F7: the
// decoder was quadratic, and one message of 40,000 escapes made every erasure take minutes
// (or fail under a statement timeout, the person left in place).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();

const MESSAGES = [
  String.raw`{"error":"bad body","body":"{\"to\":\"zelda.quux\\u0040example.org\"}"}`,
  'sms to +447700900123 failed',
  'name Zelda\nQuuxington',
  'name Zelda  Quuxington, twice',
  'name Zelda\u00a0Quuxington',
  'GET /api/users/4242424.json returned 500',
  'lock held on user_4242424',
  'object exports/zelda.quux@example.org_2026.json missing',
  'to zelda.quux&#64;example.org and &#x7a;elda.quux&#x40;example.org',
  `filler ${String.raw`\u0041`.repeat(40000)} end`,
];
// From the messages of runs on the person's own table, every value; from those of another
// table, what identifies on its own (an address, a name of several words, a phone with its
// +): a bare number there is anybody's (docs/dba-guide.md, "Erasure requests").
const GONE_MINE = ['zelda.quux', 'Quuxington', '4242424', '7700900123', '&#64;', '\\u0040'];
const GONE_ANYWHERE = ['zelda.quux', 'Quuxington', '+447700900123', '&#64;', '\\u0040'];

describe('a completed erasure finds the person however a program spelt them in a message (atk151)', () => {
  it('F1-F5, F7: escapes of escapes, a phone\'s digits, blanks, glued tokens and entities are erased, in messages of the person\'s table and of others; a message of many escapes costs no more than its length', async () => {
    const after = await personQuotedInMessages(db, 'a151', { email: 'zelda.quux@example.org', name: 'Zelda Quuxington', phone: '+44 7700 900123' }, MESSAGES);
    expect(after.length).toBe(2 * MESSAGES.length);
    for (const { e: m, mine } of after) {
      for (const g of mine ? GONE_MINE : GONE_ANYWHERE) expect([m.slice(0, 80), g, m.includes(g)]).toEqual([m.slice(0, 80), g, false]);
    }
    // What was not the person's stays.
    const all = after.map((f) => f.e).join('\n');
    for (const kept of ['returned 500', 'lock held on', '_2026.json missing', 'sms to', 'bad body', 'filler']) expect([kept, all.includes(kept)]).toEqual([kept, true]);
  });
});
