/**
 * Statements built once with kysely and run many times with new parameters.
 *
 * Building a query with kysely's builder and compiling it costs more CPU per write than SQLite
 * takes to run it (operation-node trees, freezing, visiting, identifier quoting), and the store's
 * write statements never change shape. So each is built once, with a unique marker string in
 * place of every value, compiled by the store's own dialect, and kept as SQL text plus the list of
 * which column fills which positional parameter. Binding a row then just lists its values in that
 * order. Because the order is read off the compiled parameters, not assumed, it holds for any
 * dialect (SQLite `?`, PostgreSQL `$1..$n`); parameters kysely added itself (a `limit 1`) stay as
 * the constants it compiled.
 */
import type { Compilable } from 'kysely';

/** Control character + name: cannot be mistaken for a constant the query builder added. */
const MARKER_PREFIX = '\u0000jitca-parameter:';

export interface CompiledStatement<Row> {
  readonly sql: string;
  /** The positional parameters for row, in the order the compiled SQL expects them. */
  bind(row: Row): unknown[];
}

/**
 * Compiles build(markers) once. columns must name every key of Row (the `satisfies` pattern makes
 * TypeScript check that); build must use each marker as a value, and only as a value.
 */
export function compileStatement<Row extends object>(
  columns: { readonly [K in keyof Row]: true },
  build: (markers: Row) => Compilable,
): CompiledStatement<Row> {
  const names = Object.keys(columns) as Array<keyof Row & string>;
  // The one place a Row holds something else: marker strings, seen only by the compiler.
  const markers = Object.fromEntries(names.map((name) => [name, MARKER_PREFIX + name])) as Row;
  const compiled = build(markers).compile();
  const slots: Array<(keyof Row & string) | undefined> = [];
  const constants: unknown[] = [];
  const used = new Set<string>();
  for (const parameter of compiled.parameters) {
    const column = typeof parameter === 'string' && parameter.startsWith(MARKER_PREFIX)
      ? (parameter.slice(MARKER_PREFIX.length) as keyof Row & string)
      : undefined;
    if (column !== undefined && !Object.hasOwn(columns, column)) {
      throw new Error(`compiled statement refers to unknown column ${column}: ${compiled.sql}`);
    }
    if (column !== undefined) used.add(column);
    slots.push(column);
    constants.push(column === undefined ? parameter : undefined);
  }
  const unused = names.filter((name) => !used.has(name));
  if (unused.length > 0) {
    // A marker the compiler inlined or dropped would silently write the marker or nothing.
    throw new Error(`compiled statement does not bind ${unused.join(', ')}: ${compiled.sql}`);
  }
  if (compiled.sql.includes(MARKER_PREFIX)) throw new Error(`compiled statement inlined a value: ${compiled.sql}`);
  const count = slots.length;
  return {
    sql: compiled.sql,
    bind(row: Row): unknown[] {
      const parameters = new Array<unknown>(count);
      for (let i = 0; i < count; i++) {
        const column = slots[i];
        parameters[i] = column === undefined ? constants[i] : row[column];
      }
      return parameters;
    },
  };
}
