// Attack round atk154 (a completed erasure leaves none of the person in messages, and
// erases nobody else's evidence), on stop 52's message reading. F1 (critical): a no-break
// space between a name's words stayed in a C.UTF-8 database, whose [:graph:] takes U+00A0
// for a visible character, so the message was never read decoded. F2 (critical): a value of
// the person's with a no-break space stayed where a message wrote a plain space. F3
// (critical): a percent-encoded value right after another escape (q=%22zelda.quux%40...)
// stayed. F4 (major): &#64 without its ';' stayed. F5 (critical): a 48 KB value quoted in a
// message made every erasure of the person fail (a regular expression too complex). F7
// (major, the opposite harm): a made-up person brien@example.org / Angelo Russo erased
// o'brien@example.org and D'Angelo Russo from every message.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { type Person, personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();


const ZELDA: Person = { email: 'zelda.quux@example.org', name: 'Zelda Quuxington', phone: '+44 7700 900123' };

describe('messages read as programs write them, and only the person erased (atk154)', () => {
  it('F1, F3, F4: no-break spaces, percent-encoding after another escape, entities without their ";"', async () => {
    const out = await personQuotedInMessages(db, 'a154a', ZELDA, [
      'name Zelda\u00a0Quuxington here',
      'sms +44\u00a07700\u00a0900123 failed',
      'POST /hook?q=%22zelda.quux%40example.org%22 failed',
      'name=%22Zelda%20Quuxington%22&x=1',
      'to zelda.quux&#64example.org bounced',
    ]);
    expect(out.length).toBe(10);
    for (const { e } of out) {
      for (const g of ['Quuxington', 'zelda.quux', '7700']) expect([e, g, e.includes(g)]).toEqual([e, g, false]);
    }
  });

  it('F2: a value of the person\'s with a no-break space is erased where a message writes a plain space or a line break', async () => {
    const out = await personQuotedInMessages(db, 'a154b', { ...ZELDA, name: 'Zelda\u00a0Quuxington' }, ['name Zelda Quuxington here', 'name Zelda\nQuuxington there']);
    expect(out.length).toBe(4);
    for (const { e } of out) expect([e, e.includes('Quuxington')]).toEqual([e, false]);
  });

  it('F5: a value too long for one regular expression is erased, and the erasure completes', async () => {
    const bio = `Zelda says: ${'Lorem ipsum '.repeat(5000)}`;
    const out = await personQuotedInMessages(db, 'a154c', { ...ZELDA, bio }, [`household member still has bio: ${bio}`]);
    for (const { e, mine } of out) {
      if (mine) expect([e.length, e.includes('Lorem ipsum')]).toEqual([e.length, false]);
    }
  });

  it('F7: a made-up person does not erase another\'s address or name that ends with theirs after an apostrophe', async () => {
    const out = await personQuotedInMessages(db, 'a154d', { email: 'brien@example.org', name: 'Angelo Russo', phone: '+1 555 0199' }, [
      "mail to o'brien@example.org bounced",
      'card for D\u2019Angelo Russo and D\'Angelo Russo',
      "quoted 'brien@example.org' and 'Angelo Russo' are theirs",
    ]);
    const all = out.map((f) => f.e).join('\n');
    expect(all).toContain("o'brien@example.org");
    expect(all).toContain('D\u2019Angelo Russo');
    expect(all).toContain("D'Angelo Russo");
    expect(all).not.toContain("'brien@example.org'");
    expect(all).not.toContain("'Angelo Russo'");
  });
});
