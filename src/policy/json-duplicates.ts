/**
 * JSON.parse keeps the last of two equal keys without a word (ECMA-262 §25.5.1, RFC 8259 §4 leaves it
 * to the parser). A reviewer reading the first "maxTtlSeconds" would approve something other than what
 * runs, so the loader refuses duplicates. This scanner runs only on text JSON.parse has accepted, which
 * keeps it small: it only needs to find strings in key position and track where it is.
 */

/** JSON Pointer (RFC 6901) of the first duplicated key, or undefined when every object's keys are unique. */
export function findDuplicateKey(validJsonText: string): string | undefined {
  // An explicit stack instead of recursion: deeply nested input must not overflow the call stack.
  const stack: Frame[] = [];
  let i = 0;
  const text = validJsonText;
  while (i < text.length) {
    const ch = text[i]!;
    switch (ch) {
      case '{':
      case '[': {
        const pointer = childPointer(stack);
        stack.push(ch === '{' ? { kind: 'object', pointer, keys: new Set(), expectKey: true, key: '' } : { kind: 'array', pointer, index: 0 });
        i++;
        break;
      }
      case '}':
      case ']':
        stack.pop();
        i++;
        break;
      case ',': {
        const top = stack[stack.length - 1];
        if (top?.kind === 'object') top.expectKey = true;
        else if (top?.kind === 'array') top.index++;
        i++;
        break;
      }
      case ':': {
        const top = stack[stack.length - 1];
        if (top?.kind === 'object') top.expectKey = false;
        i++;
        break;
      }
      case '"': {
        const end = endOfString(text, i);
        const top = stack[stack.length - 1];
        if (top?.kind === 'object' && top.expectKey) {
          // Decode escapes: "\u0061" and "a" are the same key to JSON.parse.
          const key = JSON.parse(text.slice(i, end)) as string;
          if (top.keys.has(key)) return `${top.pointer}/${escapePointerToken(key)}`;
          top.keys.add(key);
          top.key = key;
        }
        i = end;
        break;
      }
      default:
        // Whitespace, numbers, true/false/null: nothing that affects keys or positions.
        i++;
    }
  }
  return undefined;
}

/** RFC 6901 §3: "~" is written "~0" and "/" is written "~1". */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

type Frame =
  | { kind: 'object'; pointer: string; keys: Set<string>; expectKey: boolean; key: string }
  | { kind: 'array'; pointer: string; index: number };

function childPointer(stack: readonly Frame[]): string {
  const parent = stack[stack.length - 1];
  if (parent === undefined) return '';
  return parent.kind === 'object'
    ? `${parent.pointer}/${escapePointerToken(parent.key)}`
    : `${parent.pointer}/${parent.index}`;
}

/** Index just past the closing quote of the string starting at `start` (text is valid JSON). */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '"') return i + 1;
    else i++;
  }
  return i;
}
