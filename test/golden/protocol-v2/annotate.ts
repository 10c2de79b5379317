/**
 * Byte-by-byte listings of golden vectors, as docs/protocol.md shows them:
 * each line the bytes of one part (hex) and, after `|`, what they are, read
 * with the schema's own descriptors. test/unit/codec-v2-golden.test.ts checks
 * that every golden block of the document is what this file makes of the
 * vectors, so the examples stay true. `node dist/test/golden/protocol-v2/annotate.js <kind> <name>`
 * prints one listing (kind: push, command, frame, payload); `… --fill docs/protocol.md`
 * rewrites the document's golden blocks after a change of the vectors.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ClientMessageSchema, ServerMessageSchema } from '../../../src/protocol/gen/switchboard_pb.js';
import { loadVectors } from './vectors.js';

const WIRE_NAMES = ['VARINT', 'I64', 'LEN', 'SGROUP', 'EGROUP', 'I32'];

function hexOf(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** One listing line: the bytes, indented by depth, then what they mean. */
type Line = [depth: number, bytes: Uint8Array, meaning: string];

function varintAt(bytes: Uint8Array, at: number): { value: bigint; end: number } {
  let value = 0n;
  let shift = 0n;
  let i = at;
  for (;;) {
    const b = bytes[i++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return { value, end: i };
    shift += 7n;
  }
}

function describeMessage(desc: DescMessage, bytes: Uint8Array, depth: number, out: Line[]): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const start = r.pos;
    const [no, wire] = r.tag();
    const tagBytes = bytes.subarray(start, r.pos);
    const field = desc.fields.find((f) => f.number === no);
    const name = field ? field.name : 'unknown field';
    const head = `field ${no} ${name}, ${WIRE_NAMES[wire]}`;
    if (wire === WireType.Varint) {
      const v = varintAt(bytes, r.pos);
      out.push([depth, bytes.subarray(start, v.end), `${head}: ${scalarShown(field, v.value)}`]);
      r.pos = v.end;
      continue;
    }
    if (wire !== WireType.LengthDelimited) throw new Error(`no listing for wire type ${wire}`);
    const lenStart = r.pos;
    const content = r.bytes();
    const lenBytes = bytes.subarray(lenStart, lenStart + (r.pos - lenStart - content.length));
    const message = field && (field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') || field.fieldKind === 'map') ? field : undefined;
    if (message) {
      const inner = message.fieldKind === 'map' ? undefined : message.message;
      out.push([depth, Uint8Array.from([...tagBytes, ...lenBytes]), `${head}, ${content.length} bytes: ${inner ? inner.name : 'map entry'}`]);
      if (inner) describeMessage(inner, content, depth + 1, out);
      else describeMapEntry(content, depth + 1, out);
    } else {
      const isString = field?.fieldKind === 'scalar' && field.scalar === ScalarType.STRING;
      const text = new TextDecoder().decode(content);
      const shown = isString ? JSON.stringify(text) : `the JSON ${text}`;
      out.push([depth, Uint8Array.from([...tagBytes, ...lenBytes]), `${head}, ${content.length} bytes: ${shown}`]);
      out.push([depth + 1, content, '']);
    }
  }
}

function describeMapEntry(bytes: Uint8Array, depth: number, out: Line[]): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const start = r.pos;
    const [no, wire] = r.tag();
    if (wire === WireType.Varint) {
      const v = varintAt(bytes, r.pos);
      out.push([depth, bytes.subarray(start, v.end), `field ${no} value, VARINT: ${v.value}`]);
      r.pos = v.end;
    } else {
      const s = r.string();
      out.push([depth, bytes.subarray(start, r.pos), `field ${no} key, LEN: ${JSON.stringify(s)}`]);
    }
  }
}

function scalarShown(field: DescField | undefined, v: bigint): string {
  if (field?.fieldKind === 'enum') return `${v} (${field.enum.values.find((e) => BigInt(e.number) === v)?.name ?? '?'})`;
  if (field?.fieldKind === 'scalar' && field.scalar === ScalarType.BOOL) return v === 0n ? 'false' : 'true';
  if (field?.name === 'ts') return `${v} (${new Date(Number(v)).toISOString()})`;
  return String(v);
}

/** Size-delimited messages one after the other. */
function describeDelimited(desc: DescMessage, bytes: Uint8Array, out: Line[]): void {
  let at = 0;
  while (at < bytes.length) {
    const len = varintAt(bytes, at);
    const end = len.end + Number(len.value);
    out.push([0, bytes.subarray(at, len.end), `length of the ${desc.name}: ${len.value} bytes`]);
    describeMessage(desc, bytes.subarray(len.end, end), 1, out);
    at = end;
  }
}

/** A listing as the document prints it: long runs of bytes wrap at 16 a line. */
export function render(lines: Line[]): string {
  const rows: [string, string][] = [];
  for (const [depth, bytes, meaning] of lines) {
    const pad = '  '.repeat(depth);
    for (let i = 0; i < bytes.length || i === 0; i += 16) rows.push([pad + hexOf(bytes.subarray(i, i + 16)), i === 0 ? meaning : '']);
  }
  const width = Math.max(...rows.map(([h]) => h.length));
  return rows.map(([h, m]) => (m ? `${h.padEnd(width)} | ${m}` : h)).join('\n');
}

export function listing(kind: string, name: string): string {
  const V = loadVectors();
  const lines: Line[] = [];
  if (kind === 'push') describeDelimited(ServerMessageSchema, Buffer.from(V.pushes.find((p) => p.name === name)!.proto, 'hex'), lines);
  else if (kind === 'command') describeDelimited(ClientMessageSchema, Buffer.from(V.commands.find((c) => c.name === name)!.proto, 'hex'), lines);
  else if (kind === 'payload') describeDelimited(ClientMessageSchema, Buffer.from(V.clientPayloads.find((p) => p.name === name)!.proto, 'hex'), lines);
  else if (kind === 'frame') {
    const frame = Buffer.from(V.serverFrames.find((f) => f.name === name)!.proto, 'hex');
    const headerLength = frame[1] === 126 ? 4 : 2;
    lines.push([0, frame.subarray(0, 1), 'FIN + opcode 2 (binary)']);
    lines.push([0, frame.subarray(1, headerLength), `payload length: ${frame.length - headerLength} bytes (unmasked)`]);
    describeDelimited(ServerMessageSchema, frame.subarray(headerLength), lines);
  } else throw new Error(`no such kind: ${kind}`);
  return render(lines);
}

/** The bytes of a listing: the hex before each `|` (or of a line without one), in order. */
export function bytesOfListing(text: string): string {
  return text
    .split('\n')
    .map((line) => line.split('|')[0]!.replace(/\s+/g, ''))
    .join('');
}


/** A golden block: the comment, the fence's first line, what it holds (nothing, or lines), the closing fence. */
const GOLDEN_BLOCK = /(<!-- golden: (push|command|frame|payload) ([a-z0-9-]+) (proto|json) -->\n```[a-z]*\n)((?:[\s\S]*?\n)??)(```)/g;

/** What the golden block of `kind` `name` in `encoding` holds: a listing (proto), or the JSON text. */
function blockContent(kind: string, name: string, encoding: string): string {
  if (encoding === 'proto') return listing(kind, name);
  const V = loadVectors();
  if (kind === 'push') return V.pushes.find((p) => p.name === name)!.json;
  if (kind === 'command') return V.commands.find((c) => c.name === name)!.json;
  if (kind === 'payload') return V.clientPayloads.find((p) => p.name === name)!.json;
  const f = V.serverFrames.find((x) => x.name === name)!;
  return f.pushes.map((n) => V.pushes.find((p) => p.name === n)!.json).join('\n');
}

const SCHEMA_BLOCK = /(<!-- schema: ([\w./-]+) -->\n```[a-z]*\n)((?:[\s\S]*?\n)??)(```)/g;
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * `doc` with every golden block (a `<!-- golden: kind name encoding -->` comment, then a fenced block) made from
 * the vectors, and every schema block (`<!-- schema: path -->`) holding that file of the repository.
 */
export function fillGoldenBlocks(doc: string): string {
  return doc
    .replace(GOLDEN_BLOCK, (_all, open: string, kind: string, name: string, encoding: string, _old: string, close: string) => open + blockContent(kind, name, encoding) + '\n' + close)
    .replace(SCHEMA_BLOCK, (_all, open: string, path: string, _old: string, close: string) => open + readFileSync(join(REPO_ROOT, path), 'utf8').replace(/\n?$/, '\n') + close);
}

/** How many golden and schema blocks `doc` has. */
export function countGoldenBlocks(doc: string): number {
  return [...doc.matchAll(GOLDEN_BLOCK)].length + [...doc.matchAll(SCHEMA_BLOCK)].length;
}

// `annotate.js <kind> <name>` prints a listing; `annotate.js --fill <file>` rewrites the file's golden blocks.
if (process.argv[1]?.endsWith('annotate.js')) {
  const [a, b] = process.argv.slice(2);
  if (a === '--fill' && b) writeFileSync(b, fillGoldenBlocks(readFileSync(b, 'utf8')));
  else if (a && b) console.log(listing(a, b));
}
