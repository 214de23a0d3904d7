import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { SshReader, SshWriter } from '../../src/ssh/wire.ts';

type Field =
  | { kind: 'uint32'; value: number }
  | { kind: 'uint64'; value: bigint }
  | { kind: 'string'; value: Uint8Array }
  | { kind: 'utf8'; value: string }
  | { kind: 'mpint'; value: bigint }
  | { kind: 'names'; value: string[] };

const nameArb = fc.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,12}$/);
const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 0xffff_ffff }).map((value) => ({ kind: 'uint32' as const, value })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value) => ({ kind: 'uint64' as const, value })),
  fc.uint8Array({ maxLength: 64 }).map((value) => ({ kind: 'string' as const, value })),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((value) => ({ kind: 'utf8' as const, value })),
  fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }).map((value) => ({ kind: 'mpint' as const, value })),
  fc.array(nameArb, { maxLength: 5 }).map((value) => ({ kind: 'names' as const, value })),
);

function write(writer: SshWriter, field: Field): void {
  switch (field.kind) {
    case 'uint32':
      writer.writeUint32(field.value);
      return;
    case 'uint64':
      writer.writeUint64(field.value);
      return;
    case 'string':
    case 'utf8':
      writer.writeString(field.value);
      return;
    case 'mpint':
      writer.writeMpint(field.value);
      return;
    case 'names':
      writer.writeNameList(field.value);
      return;
  }
}

function read(reader: SshReader, field: Field): unknown {
  switch (field.kind) {
    case 'uint32':
      return reader.readUint32();
    case 'uint64':
      return reader.readUint64();
    case 'string':
      return reader.readString();
    case 'utf8':
      return reader.readStringUtf8();
    case 'mpint':
      return reader.readMpint();
    case 'names':
      return reader.readNameList();
  }
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

describe('SshWriter -> SshReader round trips (RFC 4251 §5)', () => {
  it('reads back every sequence of fields exactly and ends with nothing left', () => {
    fc.assert(
      fc.property(fc.array(fieldArb, { maxLength: 12 }), (fields) => {
        const writer = new SshWriter();
        for (const field of fields) write(writer, field);
        const reader = new SshReader(writer.toBytes());
        for (const field of fields) expect(read(reader, field)).toEqual(field.value);
        reader.ensureEnd();
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips unsigned mpint magnitudes with canonical sign bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (magnitude) => {
        const encoded = new SshWriter().writeMpint(magnitude).toBytes();
        const decoded = new SshReader(encoded).readMpintUnsignedBytes();
        let start = 0;
        while (magnitude[start] === 0) start++;
        expect(decoded).toEqual(magnitude.slice(start));
      }),
    );
  });

  it('encodes the RFC 4251 §5 mpint examples byte for byte', () => {
    const cases: [bigint, number[]][] = [
      [0n, [0, 0, 0, 0]],
      [0x9a378f9b2e332a7n, [0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7]],
      [0x80n, [0, 0, 0, 2, 0x00, 0x80]],
      [-0x1234n, [0, 0, 0, 2, 0xed, 0xcc]],
      [-0xdeadbeefn, [0, 0, 0, 5, 0xff, 0x21, 0x52, 0x41, 0x11]],
    ];
    for (const [value, encoded] of cases) {
      expect(new SshWriter().writeMpint(value).toBytes()).toEqual(Uint8Array.from(encoded));
      expect(new SshReader(Uint8Array.from(encoded)).readMpint()).toBe(value);
    }
  });
});

describe('SshReader strictness', () => {
  it('rejects a string length larger than the input before allocating (ERR_WIRE_TRUNCATED)', () => {
    const reader = new SshReader(bytes(0xff, 0xff, 0xff, 0xf0, 1, 2, 3));
    expect(() => reader.readString()).toThrow(expect.objectContaining({ code: ErrorCodes.WIRE_TRUNCATED }));
  });

  it('rejects short integers (ERR_WIRE_TRUNCATED)', () => {
    expect(() => new SshReader(bytes(0, 0, 1)).readUint32()).toThrow(
      expect.objectContaining({ code: ErrorCodes.WIRE_TRUNCATED }),
    );
    expect(() => new SshReader(bytes(0, 0, 0, 0, 0, 0, 1)).readUint64()).toThrow(
      expect.objectContaining({ code: ErrorCodes.WIRE_TRUNCATED }),
    );
  });

  it('reports trailing bytes (ERR_WIRE_TRAILING_BYTES)', () => {
    const reader = new SshReader(bytes(0, 0, 0, 1, 0x41, 0x00));
    expect(reader.readStringUtf8()).toBe('A');
    expect(reader.remaining).toBe(1);
    expect(() => reader.ensureEnd()).toThrow(expect.objectContaining({ code: ErrorCodes.WIRE_TRAILING_BYTES }));
  });

  it('rejects non-canonical mpints, which would give one key two encodings (ERR_WIRE_INVALID)', () => {
    for (const encoded of [bytes(0, 0, 0, 1, 0x00), bytes(0, 0, 0, 2, 0x00, 0x7f), bytes(0, 0, 0, 2, 0xff, 0x80)]) {
      expect(() => new SshReader(encoded).readMpint()).toThrow(expect.objectContaining({ code: ErrorCodes.WIRE_INVALID }));
    }
    expect(() => new SshReader(bytes(0, 0, 0, 1, 0x80)).readMpintUnsignedBytes()).toThrow(
      expect.objectContaining({ code: ErrorCodes.WIRE_INVALID }),
    );
  });

  it('rejects invalid UTF-8 and malformed name-lists (ERR_WIRE_INVALID)', () => {
    expect(() => new SshReader(bytes(0, 0, 0, 2, 0xc3, 0x28)).readStringUtf8()).toThrow(
      expect.objectContaining({ code: ErrorCodes.WIRE_INVALID }),
    );
    const list = new SshWriter().writeString('aes128-ctr,,aes256-ctr').toBytes();
    expect(() => new SshReader(list).readNameList()).toThrow(expect.objectContaining({ code: ErrorCodes.WIRE_INVALID }));
  });

  it('never throws anything but a JitcaError on random input, whatever is read', () => {
    const op = fc.constantFrom('u32', 'u64', 'str', 'utf8', 'mpint', 'mpintU', 'names', 'end');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.array(op, { maxLength: 10 }), (input, ops) => {
        const reader = new SshReader(input);
        try {
          for (const o of ops) {
            if (o === 'u32') reader.readUint32();
            else if (o === 'u64') reader.readUint64();
            else if (o === 'str') reader.readString();
            else if (o === 'utf8') reader.readStringUtf8();
            else if (o === 'mpint') reader.readMpint();
            else if (o === 'mpintU') reader.readMpintUnsignedBytes();
            else if (o === 'names') reader.readNameList();
            else reader.ensureEnd();
          }
        } catch (error) {
          expect(isJitcaError(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('SshWriter buffer handling', () => {
  it('writes the same bytes whatever its starting size, growing as needed', () => {
    fc.assert(
      fc.property(fc.array(fieldArb, { maxLength: 12 }), (fields) => {
        const small = new SshWriter(1);
        const large = new SshWriter(8192);
        for (const field of fields) {
          write(small, field);
          write(large, field);
        }
        expect(small.length).toBe(large.length);
        expect(small.toBytes()).toEqual(large.toBytes());
      }),
      { numRuns: 300 },
    );
  });

  it('writes text as string(UTF-8 bytes), exactly as TextEncoder encodes it, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (text, capacity) => {
        const body = encoder.encode(text);
        const expected = new Uint8Array(4 + body.length);
        new DataView(expected.buffer).setUint32(0, body.length);
        expected.set(body, 4);
        expect(new SshWriter(capacity).writeString(text).toBytes()).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes a nested string exactly as a string holding its separately encoded body', () => {
    fc.assert(
      fc.property(fc.array(fieldArb, { maxLength: 8 }), fc.uint8Array({ maxLength: 16 }), (fields, prefix) => {
        const inner = new SshWriter();
        for (const field of fields) write(inner, field);
        const nested = new SshWriter(2).writeString(prefix).writeNestedString((writer) => {
          for (const field of fields) write(writer, field);
        });
        expect(nested.toBytes()).toEqual(new SshWriter().writeString(prefix).writeString(inner.toBytes()).toBytes());
      }),
      { numRuns: 300 },
    );
  });

  it('copies what it is given and what it returns: later changes on either side alter nothing', () => {
    const input = Uint8Array.from([1, 2, 3]);
    const writer = new SshWriter(8).writeString(input);
    input.fill(9);
    const first = writer.toBytes();
    writer.writeUint32(7);
    first.fill(0);
    expect(writer.toBytes()).toEqual(bytes(0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 7));
  });
});
