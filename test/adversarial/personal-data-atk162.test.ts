// Attack round atk162 (no personal data of an erased person left). F1-F4 (major): the
// application's messages quoting the person as bytes stayed after the erasure completed:
// a name in octal escapes (a bytea printed with bytea_output = escape, C's and git's
// spelling: Zo\303\253), in \xHH escapes of its UTF-8 bytes (Python's b'Zo\xc3\xab'), an
// address as a bytea's hex output (convert_to in a message: \x7a656c…), and an address in
// quoted-printable (zelda.q=40example.org). Each is one more form the erasure looks for
// (_escaped_forms kinds x, b, q), and a string's prefix (b'…', u'…') is not a word.
// atk157 F2 (left at stop 52): percent-encoding of the bytes beyond ASCII only
// (Zo%C3%AB Quuxington) and a form's + for a blank; F8, HTML's named letters (Zo&euml;).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { personQuotedInMessages } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;

describe('a person quoted as bytes in messages (atk162)', () => {
  it('F1-F4: octal and \\xHH byte escapes, a bytea\'s hex output and quoted-printable are erased', async () => {
    const out = await personQuotedInMessages(db, 'a162a', { email: 'zelda.q@example.org', name: 'Zoë Quuxington', phone: '+44 7700 900123' }, [
      String.raw`order refused: referrer b'Zo\xc3\xab Quuxington' is blocked`,
      String.raw`order refused: referrer b'ZO\xC3\xAB QUUXINGTON' is blocked`,
      String.raw`order refused: referrer Zo\303\253 Quuxington (escape)`,
      String.raw`order refused: referrer bytes \x7a656c64612e71406578616d706c652e6f7267`,
      'order refused: mail zelda.q=40example.org bounced',
      // Percent-encoded beyond ASCII only, and a form's + for a blank (atk157 F2, left at stop 52).
      'GET /search?name=Zo%C3%AB Quuxington 403',
      'POST name=Zo%C3%AB+Quuxington&x=1 403',
      // HTML's named letters (atk157 F8, left at stop 52).
      '<td>Zo&euml; Quuxington</td> refused',
    ]);
    expect(out).toHaveLength(16);
    for (const { e } of out) {
      expect([e, /quuxington|7a656c64612e7140|zelda\.q/i.test(e)]).toEqual([e, false]);
      expect(e).toMatch(/\[erased\]/);
    }
  });

  it('the other way: a made-up person\'s bytes do not erase another\'s longer value', async () => {
    const out = await personQuotedInMessages(db, 'a162b', { email: 'brien@example.org', name: 'Zoë Quux', phone: '+1 555 0199' }, [
      // o'brien@example.org as a bytea's hex output: brien@'s bytes are inside it.
      String.raw`referrer bytes \x6f27627269656e406578616d706c652e6f7267`,
      String.raw`referrer b'Zo\xc3\xab Quuxington' is blocked`,
      'mail o=27brien=40example.org bounced',
    ]);
    const all = out.map((f) => f.e).join('\n');
    for (const kept of [String.raw`\x6f27627269656e406578616d706c652e6f7267`, String.raw`Zo\xc3\xab Quuxington`, 'o=27brien=40example.org']) {
      expect([kept, all.includes(kept)]).toEqual([kept, true]);
    }
  });

  it('_escaped_forms gives a value\'s hex forms (as written, lowered, both Unicode forms) only where the messages hold hex', async () => {
    const [r] = await q<{ all: string[]; none: string[] }>(
      `select retention_internal._escaped_forms('Zoë', 'x') as all, retention_internal._escaped_forms('Zoë', 'c') as none`);
    expect(r!.all.sort()).toEqual([String.raw`\x5a6fc3ab`, String.raw`\x7a6fc3ab`, String.raw`\x5a6f65cc88`, String.raw`\x7a6f65cc88`].sort());
    expect(r!.none).toEqual([]);
  });
});
