/**
 * Just enough YAML for a kubeconfig: block mappings and sequences, every string double-quoted.
 * JSON string escapes are a subset of YAML's double-quoted escapes (YAML 1.2 §5.7), so quoting with
 * JSON.stringify never lets a value (a path with ": " or "#", a "yes") change the document's shape.
 */
export function toYaml(value: object): string {
  return `${block(value, '').join('\n')}\n`;
}

type Scalar = string | boolean | number | null;

function block(value: unknown, indent: string): string[] {
  if (isScalar(value)) return [`${indent}${scalar(value)}`];
  if (Array.isArray(value)) return value.flatMap((item: unknown) => sequenceItem(item, indent));
  return entries(value).flatMap(([key, item]) => mappingEntry(key, item, indent));
}

function mappingEntry(key: string, value: unknown, indent: string): string[] {
  const label = `${indent}${/^[A-Za-z][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key)}:`;
  if (isScalar(value)) return [`${label} ${scalar(value)}`];
  if (isEmpty(value)) return [`${label} ${Array.isArray(value) ? '[]' : '{}'}`];
  // kubectl's own style: a sequence under a key sits at the key's indentation.
  return [label, ...block(value, Array.isArray(value) ? indent : `${indent}  `)];
}

function sequenceItem(value: unknown, indent: string): string[] {
  if (isScalar(value)) return [`${indent}- ${scalar(value)}`];
  if (isEmpty(value)) return [`${indent}- ${Array.isArray(value) ? '[]' : '{}'}`];
  const lines = block(value, `${indent}  `);
  return [`${indent}- ${(lines[0] ?? '').slice(indent.length + 2)}`, ...lines.slice(1)];
}

function scalar(value: Scalar): string {
  if (typeof value !== 'string') return String(value);
  // U+2028/9 pass JSON.stringify unescaped but are line breaks to a YAML 1.1 reader.
  return JSON.stringify(value).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function isScalar(value: unknown): value is Scalar {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number' && Number.isFinite(value)) return true;
  if (typeof value === 'object') return false;
  throw new TypeError(`cannot write a ${typeof value} as YAML`);
}

/** Mapping entries without undefined members (JSON.stringify drops those too). */
function entries(value: unknown): Array<[string, unknown]> {
  return Object.entries(value as object).filter((entry) => entry[1] !== undefined);
}

function isEmpty(value: unknown): boolean {
  return Array.isArray(value) ? value.length === 0 : entries(value).length === 0;
}
