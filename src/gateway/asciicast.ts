import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * A session's terminal output as asciicast v2 (docs.asciinema.org, "asciicast v2"): a header
 * line, then one JSON line per chunk, `[seconds, "o", text]`. Size-capped: once `maxBytes` would be
 * passed, the recording stops with a last marker event and says so; the session goes on. The
 * SHA-256 is of the bytes written, so the audit record pins exactly this file.
 */
export interface RecordingSummary {
  file: string;
  bytes: number;
  sha256: string;
  truncated: boolean;
}

export interface Recorder {
  /** Output of the session, stdout and stderr alike (a terminal shows them together). */
  output(chunk: Buffer): void;
  close(): RecordingSummary;
}

export function startRecording(file: string, options: { maxBytes: number; startedAt: number; command: string; now?: () => number }): Recorder {
  const now = options.now ?? Date.now;
  const hash = createHash('sha256');
  const fd = openSync(file, 'wx', 0o600);
  let bytes = 0;
  let truncated = false;
  let closed = false;
  const write = (line: string): void => {
    const data = Buffer.from(`${line}\n`);
    writeSync(fd, data);
    hash.update(data);
    bytes += data.length;
  };
  write(JSON.stringify({ version: 2, width: 80, height: 24, timestamp: Math.floor(options.startedAt / 1000), title: options.command }));
  const marker = JSON.stringify([0, 'm', 'recording stopped: size limit reached']).length + 32;
  return {
    output(chunk: Buffer): void {
      if (closed || truncated) return;
      const line = JSON.stringify([(now() - options.startedAt) / 1000, 'o', chunk.toString('utf8')]);
      if (bytes + Buffer.byteLength(line) + 1 + marker > options.maxBytes) {
        truncated = true;
        write(JSON.stringify([(now() - options.startedAt) / 1000, 'm', 'recording stopped: size limit reached']));
        return;
      }
      write(line);
    },
    close(): RecordingSummary {
      if (!closed) {
        closed = true;
        closeSync(fd);
      }
      return { file, bytes, sha256: hash.copy().digest('hex'), truncated };
    },
  };
}

export interface Replayed {
  header: { version: number; timestamp?: number; title?: string };
  /** The output events in order, with their offsets in seconds. */
  output: { at: number; text: string }[];
  truncated: boolean;
  sha256: string;
}

/** Reads a recording back; anything that is not asciicast v2 is refused, line by line. */
export function readRecording(file: string): Replayed {
  const bytes = readFileSync(file);
  const lines = bytes.toString('utf8').split('\n').filter((line) => line !== '');
  const header = parseLine(lines[0], 1) as Replayed['header'];
  if (typeof header !== 'object' || header === null || Array.isArray(header) || header.version !== 2) throw notARecording(`${file} is not an asciicast v2 recording`);
  const output: Replayed['output'] = [];
  let truncated = false;
  lines.slice(1).forEach((line, index) => {
    const event = parseLine(line, index + 2);
    if (!Array.isArray(event) || typeof event[0] !== 'number' || typeof event[1] !== 'string' || typeof event[2] !== 'string') {
      throw notARecording(`${file} line ${index + 2} is not an asciicast event`);
    }
    if (event[1] === 'o') output.push({ at: event[0], text: event[2] });
    if (event[1] === 'm') truncated = true;
  });
  return { header, output, truncated, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function parseLine(line: string | undefined, number: number): unknown {
  try {
    return JSON.parse(line ?? '');
  } catch {
    throw notARecording(`line ${number} of the recording is not JSON`);
  }
}

function notARecording(message: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message);
}
