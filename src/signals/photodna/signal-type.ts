import { type SignalType, invalidHash } from '../types.js';

/** Longest PhotoDNA text accepted (base64 of 144 bytes is 192 chars, hex 288; room for other encodings). */
export const MAX_PHOTODNA_CHARS = 4096;
const PHOTODNA_RE = /^[\x21-\x7e]+$/;

// PhotoDNA is proprietary: Vigil stores and exchanges it but matching needs a licensed remote matcher,
// so the type has no local distance or comparison and no hasher.
export const photodnaSignal: SignalType<'photodna'> = {
  name: 'photodna',
  description: 'Microsoft PhotoDNA (opaque; matched by a remote matcher)',
  contentTypes: ['photo'],
  matching: 'opaque',
  index: 'none',
  parse(raw) {
    const v = raw.trim();
    if (v.length === 0) throw invalidHash('Expected a PhotoDNA value but the field is empty');
    if (v.length > MAX_PHOTODNA_CHARS) throw invalidHash(`Expected at most ${MAX_PHOTODNA_CHARS} characters for photodna but received ${v.length}`);
    if (!PHOTODNA_RE.test(v)) throw invalidHash('Expected printable ASCII without spaces for photodna');
    return v;
  },
  // An arbitrary printable token: only the text format is checked, no real PhotoDNA value is needed.
  examples: ['AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='],
};
