// MAC addresses: accepted in the common spellings, stored in one canonical form.

declare const macBrand: unique symbol;
/** A MAC in canonical form: six lower-case hex octets joined by colons. */
export type Mac = string & { readonly [macBrand]: true };

const SPELLINGS: readonly RegExp[] = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i,
];

/** Normalises aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff and aabbccddeeff; undefined otherwise. */
export function parseMac(text: string): Mac | undefined {
  const trimmed = text.trim();
  for (const pattern of SPELLINGS) {
    const m = pattern.exec(trimmed);
    if (m) {
      const mixedSeparators = /[:-]/.test(trimmed) && new Set(trimmed.replace(/[0-9a-f]/gi, '')).size > 1;
      if (mixedSeparators) return undefined;
      return m.slice(1).join(':').toLowerCase() as Mac;
    }
  }
  return undefined;
}

export function isMulticast(mac: Mac): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/** iPXE's ${mac:hexhyp} form, used in per-MAC file names. */
export function macHyphen(mac: Mac): string {
  return mac.replaceAll(':', '-');
}
