/**
 * Strict reading of Protobuf bytes, shared by both directions. Browser-safe.
 *
 * The generic decoder (`fromBinary`) reads a known field by its declared type
 * whatever wire type the bytes carry: `18 00` (field 3 of ClientMessage as a
 * varint) comes out as a `ping`, the varint read as a length. Such bytes are
 * not what any encoder of this schema writes, so they are refused here before
 * `fromBinary` reads them, as Protobuf's rule for a wrong wire type allows.
 * Unknown fields are skipped (a newer peer may send them) and not kept; a
 * varint in one is still at most 10 bytes.
 * Strings are checked for UTF-8 by the generated code (proto3 `string`).
 */
import { fromBinary, mergeFromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** How deep unknown groups may nest before the bytes are refused (the generic decoder's own limit). */
const GROUP_DEPTH_LIMIT = 100;

/** A varint is at most 10 bytes (64 bits); BinaryReader.skip would read one of any length. */
function skipVarint(r: BinaryReader, bytes: Uint8Array): void {
  for (let i = 0; i < 10; i++) {
    const b = bytes[r.pos++];
    if (b === undefined) throw new RangeError('premature EOF');
    if (b < 0x80) return;
  }
  throw new Error('invalid varint: longer than 10 bytes');
}

/**
 * Skips the value of a field whose tag was just read, groups and all, without recursion: at most `groupLimit`
 * groups may nest. Stricter than BinaryReader.skip, which reads a varint of any length.
 */
export function skipField(r: BinaryReader, bytes: Uint8Array, wire: WireType, field: number, groupLimit: number): void {
  const open: number[] = [];
  for (;;) {
    switch (wire) {
      case WireType.Varint:
        skipVarint(r, bytes);
        break;
      case WireType.Bit64:
        r.pos += 8;
        break;
      case WireType.Bit32:
        r.pos += 4;
        break;
      case WireType.LengthDelimited: {
        // Not `r.pos += r.uint32()`: that adds the length to where the length started.
        const length = r.uint32();
        r.pos += length;
        break;
      }
      case WireType.StartGroup:
        if (open.length >= groupLimit) throw new Error('maximum recursion depth reached');
        open.push(field);
        break;
      case WireType.EndGroup:
        if (open.pop() !== field) throw new Error('invalid end group tag');
        break;
      default:
        throw new Error(`cannot skip wire type ${wire}`);
    }
    if (r.pos > r.len) throw new RangeError('premature EOF');
    if (open.length === 0) return;
    [field, wire] = r.tag();
  }
}

function scalarWireType(t: ScalarType): WireType {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

/** What a field is written as, and the message inside it to check in turn (none for scalars and enums). */
interface Expected {
  wire: WireType;
  /** A packed repeated scalar may also come one element at a time, with this wire type. */
  unpacked?: WireType;
  message?: DescMessage;
  /** For a map field: what its entries' key and value are written as. */
  entry?: { key: WireType; value: WireType; valueMessage?: DescMessage };
}

function expectedOf(f: DescField): Expected {
  switch (f.fieldKind) {
    case 'scalar':
      return { wire: scalarWireType(f.scalar) };
    case 'enum':
      return { wire: WireType.Varint };
    case 'message':
      return { wire: f.delimitedEncoding ? WireType.StartGroup : WireType.LengthDelimited, message: f.message };
    case 'list':
      if (f.listKind === 'message') return { wire: f.delimitedEncoding ? WireType.StartGroup : WireType.LengthDelimited, message: f.message };
      if (f.listKind === 'enum') return { wire: WireType.LengthDelimited, unpacked: WireType.Varint };
      return f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES
        ? { wire: WireType.LengthDelimited }
        : { wire: WireType.LengthDelimited, unpacked: scalarWireType(f.scalar) };
    case 'map': {
      const key = scalarWireType(f.mapKey);
      if (f.mapKind === 'message') return { wire: WireType.LengthDelimited, entry: { key, value: WireType.LengthDelimited, valueMessage: f.message } };
      return { wire: WireType.LengthDelimited, entry: { key, value: f.mapKind === 'enum' ? WireType.Varint : scalarWireType(f.scalar) } };
    }
  }
}

const fieldTables = new WeakMap<DescMessage, Map<number, Expected>>();

function fieldsOf(desc: DescMessage): Map<number, Expected> {
  let table = fieldTables.get(desc);
  if (!table) {
    table = new Map(desc.fields.map((f) => [f.number, expectedOf(f)]));
    fieldTables.set(desc, table);
  }
  return table;
}

function wrongWire(where: string, field: number, wire: WireType): Error {
  return new Error(`${where} field ${field} has the wrong wire type (${wire})`);
}

/**
 * Throws unless every known field of `bytes` (a `desc`, and the messages inside it) has the wire type its
 * declared type is written with. Checks the framing of the whole message too: a length or varint cut short, a
 * varint longer than 10 bytes, unknown groups nested deeper than the generic decoder's limit or not closed.
 */
export function checkWireTypes(desc: DescMessage, bytes: Uint8Array, depth = 0): void {
  if (depth > GROUP_DEPTH_LIMIT) throw new Error('messages nested too deep');
  const fields = fieldsOf(desc);
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    const expected = fields.get(no);
    if (expected === undefined) {
      skipField(r, bytes, wire, no, GROUP_DEPTH_LIMIT);
      continue;
    }
    if (wire !== expected.wire && wire !== expected.unpacked) throw wrongWire(desc.name, no, wire);
    if (expected.message && wire === WireType.LengthDelimited) checkWireTypes(expected.message, r.bytes(), depth + 1);
    else if (expected.entry) checkMapEntry(desc.name, no, expected.entry, r.bytes(), depth + 1);
    else skipField(r, bytes, wire, no, GROUP_DEPTH_LIMIT);
  }
}

function checkMapEntry(where: string, field: number, entry: NonNullable<Expected['entry']>, bytes: Uint8Array, depth: number): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    const expected = no === 1 ? entry.key : no === 2 ? entry.value : undefined;
    if (expected !== undefined && wire !== expected) throw wrongWire(`${where} entry of`, field, wire);
    if (no === 2 && entry.valueMessage) checkWireTypes(entry.valueMessage, r.bytes(), depth + 1);
    else skipField(r, bytes, wire, no, GROUP_DEPTH_LIMIT);
  }
}

/** `fromBinary` after checkWireTypes, unknown fields dropped. Throws on bytes that are not a `desc`. */
export function strictFromBinary<Desc extends DescMessage>(desc: Desc, bytes: Uint8Array): MessageShape<Desc> {
  checkWireTypes(desc, bytes);
  return fromBinary(desc, bytes, { readUnknownFields: false });
}

/** `mergeFromBinary` after checkWireTypes: a message field that occurs twice is merged, as Protobuf says. */
export function strictMergeFromBinary<Desc extends DescMessage>(desc: Desc, target: MessageShape<Desc>, bytes: Uint8Array): MessageShape<Desc> {
  checkWireTypes(desc, bytes);
  return mergeFromBinary(desc, target, bytes, { readUnknownFields: false });
}

/** A 64-bit field as a number; one past 2^53 - 1 has no exact number, and the message carrying it is refused. */
export function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`a 64-bit value past 2^53 - 1 (${v})`);
  return Number(v);
}
