// Protobuf text format from plain data and a schema, deterministically: fields in field-number
// order, map entries sorted by key, strings escaped as protobuf's C++ printer escapes them (so the
// file is pure ASCII), repeated fields as bracket lists the way Triton's documentation writes them.
// Data the schema does not describe, or values of the wrong kind, are refused rather than dropped.
import { TgateError } from '../../base/errors.js';

/** How one field's values are written. Map keys are always strings here (all the maps we emit). */
export type TextFieldKind = 'string' | 'bool' | 'int' | 'float' | 'enum' | 'message' | 'map';

export interface TextField {
  /** The field's name as the .proto spells it (snake_case). */
  name: string;
  /** The field number in the .proto: fields are written in this order. */
  number: number;
  kind: TextFieldKind;
  repeated?: boolean;
  /** For 'message' fields, the message's schema key; for 'map' fields, the value message's key. */
  message?: string;
  /** For 'enum' fields, the values that may be written. */
  enumValues?: readonly string[];
  /** Members of one oneof share a name here; at most one of them may be set. */
  oneof?: string;
}

/** Message schemas by key (the message's name inside its proto package, e.g. 'ModelSequenceBatching.State'). */
export type TextSchema = Readonly<Record<string, readonly TextField[]>>;

const INDENT = '  ';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `value` (a message of type `type` in `schema`) in protobuf text format: one field per line, a
 * trailing newline, optional `#` comment lines first. Undefined fields, empty lists and empty maps
 * are omitted; a message that is present but empty is written (`direct { }`), because presence
 * selects a oneof member.
 */
export function writeTextFormat(value: object, schema: TextSchema, type: string, comment?: string): string {
  const lines: string[] = [];
  if (comment !== undefined) for (const line of comment.split('\n')) lines.push(line === '' ? '#' : `# ${line}`);
  writeFields(lines, value, schema, type, 0, type);
  return lines.join('\n') + '\n';
}

function writeFields(lines: string[], value: object, schema: TextSchema, type: string, depth: number, at: string): void {
  const fields = schema[type];
  if (!fields) throw bad(at, `message type '${type}' is not in the schema`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!fields.some((f) => f.name === key)) throw bad(`${at}.${key}`, `'${key}' is not a field of ${type}`);
  }
  const oneofs = new Map<string, string>();
  for (const f of [...fields].sort((a, b) => a.number - b.number)) {
    const v = record[f.name];
    if (v === undefined) continue;
    const path = `${at}.${f.name}`;
    if (f.oneof !== undefined) {
      const other = oneofs.get(f.oneof);
      if (other !== undefined) throw bad(path, `'${f.name}' and '${other}' are both set, but they are members of one oneof (${f.oneof})`);
      oneofs.set(f.oneof, f.name);
    }
    writeField(lines, f, v, schema, depth, path);
  }
}

function writeField(lines: string[], f: TextField, v: unknown, schema: TextSchema, depth: number, path: string): void {
  const pad = INDENT.repeat(depth);
  if (f.kind === 'map') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'expected an object (a map from string keys)');
    const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const k of keys) {
      lines.push(`${pad}${f.name} {`, `${pad}${INDENT}key: ${quote(k, `${path}[key]`)}`);
      writeMessage(lines, 'value', (v as Record<string, unknown>)[k], schema, messageOf(f, path), depth + 1, `${path}[${JSON.stringify(k)}]`);
      lines.push(`${pad}}`);
    }
    return;
  }
  if (f.repeated) {
    if (!Array.isArray(v)) throw bad(path, 'expected a list (the field is repeated)');
    if (v.length === 0) return;
    if (f.kind === 'message') {
      lines.push(`${pad}${f.name} [`);
      v.forEach((item, i) => {
        lines.push(`${pad}${INDENT}{`);
        writeFields(lines, messageValue(item, `${path}[${i}]`), schema, messageOf(f, path), depth + 2, `${path}[${i}]`);
        lines.push(`${pad}${INDENT}}${i < v.length - 1 ? ',' : ''}`);
      });
      lines.push(`${pad}]`);
    } else {
      lines.push(`${pad}${f.name}: [ ${v.map((item, i) => scalar(f, item, `${path}[${i}]`)).join(', ')} ]`);
    }
    return;
  }
  if (Array.isArray(v)) throw bad(path, 'expected a single value (the field is not repeated)');
  if (f.kind === 'message') writeMessage(lines, f.name, v, schema, messageOf(f, path), depth, path);
  else lines.push(`${pad}${f.name}: ${scalar(f, v, path)}`);
}

function writeMessage(lines: string[], name: string, v: unknown, schema: TextSchema, type: string, depth: number, path: string): void {
  const pad = INDENT.repeat(depth);
  const inner: string[] = [];
  writeFields(inner, messageValue(v, path), schema, type, depth + 1, path);
  if (inner.length === 0) lines.push(`${pad}${name} { }`);
  else lines.push(`${pad}${name} {`, ...inner, `${pad}}`);
}

function messageOf(f: TextField, path: string): string {
  if (f.message === undefined) throw bad(path, `the schema names no message type for '${f.name}'`);
  return f.message;
}

function messageValue(v: unknown, path: string): object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'expected an object (a message)');
  return v;
}

function scalar(f: TextField, v: unknown, path: string): string {
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') throw bad(path, 'expected a string');
      return quote(v, path);
    case 'bool':
      if (typeof v !== 'boolean') throw bad(path, 'expected a boolean');
      return v ? 'true' : 'false';
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(path, `expected a safe integer, got ${String(v)}`);
      return String(v);
    case 'float':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(path, `expected a finite number, got ${String(v)}`);
      // Shortest round-trip decimal; Object.is keeps -0 distinguishable.
      return Object.is(v, -0) ? '-0' : String(v);
    case 'enum':
      if (typeof v !== 'string' || !(f.enumValues ?? []).includes(v)) throw bad(path, `expected one of ${(f.enumValues ?? []).join(', ')}, got ${String(v)}`);
      return v;
    default:
      throw bad(path, `a ${f.kind} field has no scalar form`);
  }
}

/**
 * A text-format string literal: UTF-8 bytes, with `\n \r \t \" \' \\` and every other byte outside
 * printable ASCII as a three-digit octal escape (protobuf's CEscape), so any string survives any
 * conforming parser byte for byte.
 */
export function quote(s: string, path = 'string'): string {
  if (LONE_SURROGATE.test(s)) throw bad(path, 'the string holds a lone UTF-16 surrogate, which has no UTF-8 form');
  let out = '"';
  for (const b of new TextEncoder().encode(s)) {
    if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x27) out += "\\'";
    else if (b === 0x5c) out += '\\\\';
    else if (b < 0x20 || b >= 0x7f) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out + '"';
}

function bad(path: string, message: string): TgateError {
  return new TgateError('E_INTERNAL', `cannot write ${path} in protobuf text format: ${message}`, {
    hint: 'this is a bug in the code that built the configuration; please report it',
  });
}
