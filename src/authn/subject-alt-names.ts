export interface SubjectAltName {
  /** "DNS", "URI", "email", "IP Address", "DirName", ... as Node prints them. */
  type: string;
  value: string;
}

/**
 * Parses the `subjectaltname` string of a Node TLS peer certificate.
 *
 * Node joins entries with ", " and, since CVE-2021-44532, prints a value as a JSON string literal
 * whenever it contains `,` `"` `\` `'` or control characters (Node docs, x509.subjectAltName).
 * Splitting at ", " is therefore unsafe: a URI SAN `x, URI:spiffe://allowed, y` would yield a
 * forged middle entry. This tokenizer reads a quoted value as one JSON literal, and returns
 * undefined (refuse) when the string is not exactly that grammar: an unquoted value containing a
 * quote or comma means a quoted region started somewhere other than right after "TYPE:" (e.g.
 * othername), which this parser does not interpret.
 */
export function parseSubjectAltNames(text: string): SubjectAltName[] | undefined {
  const names: SubjectAltName[] = [];
  let position = 0;
  while (position < text.length) {
    const colon = text.indexOf(':', position);
    if (colon <= position) return undefined;
    const type = text.slice(position, colon);
    if (!/^[A-Za-z][A-Za-z ]*$/.test(type)) return undefined;
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = endOfJsonString(text, colon + 1);
      if (end < 0) return undefined;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        return undefined;
      }
    } else {
      const separator = text.indexOf(', ', colon + 1);
      end = separator < 0 ? text.length : separator;
      value = text.slice(colon + 1, end);
      if (value.includes('"') || value.includes(',')) return undefined;
    }
    names.push({ type, value });
    if (end === text.length) break;
    if (text.slice(end, end + 2) !== ', ') return undefined;
    position = end + 2;
    if (position === text.length) return undefined;
  }
  return names;
}

/** Index just past the closing quote of the JSON string literal starting at `start`, or -1. */
function endOfJsonString(text: string, start: number): number {
  for (let index = start + 1; index < text.length; index++) {
    const char = text[index];
    if (char === '\\') {
      index++;
    } else if (char === '"') {
      return index + 1;
    }
  }
  return -1;
}
