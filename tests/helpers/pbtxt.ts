// A protobuf text-format parser for tests, written from the language specification
// (protobuf.dev/reference/protobuf/textformat-spec), independent of build/triton's writer. Given a
// protobufjs Type it is strict like protobuf's own parser (unknown fields, wrong kinds, a singular
// field set twice are errors) and shapes the result: repeated fields are arrays, maps are objects,
// enums are value names, 64-bit integers are numbers. Without a Type it is structural only.
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { ROOT } from './paths.js';

/** The vendored official Triton model configuration schema. */
export const TRITON_MODEL_CONFIG_PROTO = path.join(ROOT, 'fixtures/triton/model_config.proto');

let cachedRoot: protobuf.Root | undefined;

/** protobufjs root of fixtures/triton/model_config.proto, field names kept in snake_case, all types resolved. */
export function tritonProtoRoot(): protobuf.Root {
  if (!cachedRoot) {
    cachedRoot = protobuf.parse(fs.readFileSync(TRITON_MODEL_CONFIG_PROTO, 'utf8'), { keepCase: true }).root;
    cachedRoot.resolveAll();
  }
  return cachedRoot;
}

/** `inference.ModelConfig` from the vendored proto. */
export function modelConfigType(): protobuf.Type {
  return tritonProtoRoot().lookupType('inference.ModelConfig');
}

/** A `config.pbtxt` read as Triton reads it: strictly, against `inference.ModelConfig`. */
export function parseModelConfig(text: string): Record<string, unknown> {
  return parsePbtxt(text, modelConfigType());
}

type Token =
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'number'; text: string; at: number }
  | { kind: 'string'; bytes: number[]; at: number }
  | { kind: 'punct'; text: string; at: number };

const INT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);
const FLOAT_TYPES = new Set(['float', 'double']);

/** What a scalar value is read as: a field, or a map entry's key or value. */
interface ScalarSpec {
  type: string;
  resolvedType: protobuf.ReflectionObject | null;
}

/**
 * Parses protobuf text format. With `type`, checks the text against it and returns the message
 * shaped as described above; without, repeated occurrences and bracket lists become arrays and
 * a single occurrence stays a single value (identifiers are strings, true/false booleans).
 */
export function parsePbtxt(text: string, type?: protobuf.Type): Record<string, unknown> {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const fail = (message: string, t: Token | undefined = peek()): never => {
    const at = t ? t.at : text.length;
    const line = text.slice(0, at).split('\n').length;
    throw new Error(`pbtxt line ${line}: ${message}`);
  };
  const isPunct = (t: Token | undefined, p: string): boolean => t?.kind === 'punct' && t.text === p;
  const opening = (): string | undefined => (isPunct(peek(), '{') ? '}' : isPunct(peek(), '<') ? '>' : undefined);

  /** Fields until `close` (or the end of the text at top level). */
  const parseMessage = (msgType: protobuf.Type | undefined, close: string | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (;;) {
      const t = peek();
      if (t === undefined) {
        if (close !== undefined) fail(`expected '${close}' before the end of the text`);
        return out;
      }
      if (close !== undefined && isPunct(t, close)) {
        pos++;
        return out;
      }
      if (t.kind !== 'ident') return fail('expected a field name', t);
      const name = t.text;
      pos++;
      const field = msgType ? msgType.fields[name] : undefined;
      if (msgType && !field) fail(`'${name}' is not a field of ${msgType.fullName.slice(1)}`, t);
      const colon = isPunct(peek(), ':');
      if (colon) pos++;
      const list = isPunct(peek(), '[');
      if (list) pos++;
      const values: unknown[] = [];
      const one = (): void => {
        const close = opening();
        if (close !== undefined) {
          pos++;
          if (field && !field.map && !(field.resolvedType instanceof protobuf.Type)) fail(`'${name}' is a scalar field, not a message`);
          values.push(field?.map ? parseMapEntry(field as unknown as protobuf.MapField, close) : parseMessage(subType(field), close));
        } else {
          if (field && (field.map || field.resolvedType instanceof protobuf.Type)) fail(`'${name}' is a message field: expected '{'`);
          if (!colon) fail(`expected ':' after the scalar field '${name}'`, t);
          values.push(parseScalar(field, name));
        }
      };
      if (list) {
        if (field && !field.repeated && !field.map) fail(`'${name}' is not repeated, so it takes no list`, t);
        while (!isPunct(peek(), ']')) {
          one();
          if (isPunct(peek(), ',')) pos++;
          else if (!isPunct(peek(), ']')) fail(`expected ',' or ']' in the list of '${name}'`);
        }
        pos++;
      } else {
        one();
      }
      if (isPunct(peek(), ',') || isPunct(peek(), ';')) pos++;
      if (field?.map) {
        const map = (out[name] ??= {}) as Record<string, unknown>;
        for (const entry of values as Array<{ key: unknown; value: unknown }>) map[String(entry.key)] = entry.value;
      } else if (field?.repeated || (!field && (list || Object.hasOwn(out, name)))) {
        const prev = out[name];
        out[name] = [...(prev === undefined ? [] : Array.isArray(prev) ? prev : [prev]), ...values];
      } else {
        if (Object.hasOwn(out, name)) fail(`non-repeated field '${name}' is set more than once`, t);
        out[name] = values[0];
      }
    }
  };

  const subType = (field: protobuf.FieldBase | undefined): protobuf.Type | undefined =>
    field?.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;

  /** `{ key: K value: V }`, typed by the map field: returns the key and the value. */
  const parseMapEntry = (field: protobuf.MapField, close: string): { key: unknown; value: unknown } => {
    const entry: { key?: unknown; value?: unknown } = {};
    while (!isPunct(peek(), close)) {
      const t = peek();
      if (t?.kind !== 'ident' || (t.text !== 'key' && t.text !== 'value')) return fail(`a '${field.name}' map entry has only 'key' and 'value'`, t);
      pos++;
      if (Object.hasOwn(entry, t.text)) fail(`a '${field.name}' map entry sets '${t.text}' twice`, t);
      const colon = isPunct(peek(), ':');
      if (colon) pos++;
      const valueType = subType(field);
      const inner = opening();
      if (t.text === 'value' && valueType) {
        if (inner === undefined) fail(`the value of a '${field.name}' entry is a message: expected '{'`);
        pos++;
        entry.value = parseMessage(valueType, inner);
      } else {
        if (!colon) fail(`expected ':' after '${t.text}'`, t);
        entry[t.text] = parseScalar(t.text === 'key' ? { type: field.keyType, resolvedType: null } : field, `${field.name}.${t.text}`);
      }
      if (isPunct(peek(), ',') || isPunct(peek(), ';')) pos++;
    }
    pos++;
    return { key: entry.key ?? (field.keyType === 'string' ? '' : 0), value: entry.value ?? (subType(field) ? {} : undefined) };
  };

  const parseScalar = (spec: ScalarSpec | undefined, name: string): unknown => {
    const t = peek();
    if (t === undefined || t.kind === 'punct') return fail(`expected a value for '${name}'`, t);
    pos++;
    if (t.kind === 'string') {
      let bytes = t.bytes;
      for (let n = peek(); n?.kind === 'string'; n = peek(), pos++) bytes = bytes.concat(n.bytes);
      if (spec && spec.type !== 'string' && spec.type !== 'bytes') fail(`'${name}' is not a string field`, t);
      return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    }
    const word = t.text;
    if (!spec) {
      if (t.kind === 'number') return Number(word.replace(/[fF]$/, ''));
      return word === 'true' ? true : word === 'false' ? false : word;
    }
    if (spec.resolvedType instanceof protobuf.Enum) {
      const e = spec.resolvedType;
      if (t.kind === 'ident') {
        if (!Object.hasOwn(e.values, word)) fail(`'${word}' is not a value of enum ${e.name}`, t);
        return word;
      }
      const byId = e.valuesById[Number(word)];
      if (byId === undefined) fail(`${word} is not a value of enum ${e.name}`, t);
      return byId;
    }
    if (spec.type === 'bool') {
      if (word === 'true' || word === 't' || word === 'True' || word === '1') return true;
      if (word === 'false' || word === 'f' || word === 'False' || word === '0') return false;
      return fail(`'${name}' is a bool: expected true or false, got '${word}'`, t);
    }
    if (INT_TYPES.has(spec.type)) {
      const m = /^(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(word);
      if (t.kind !== 'number' || !m) return fail(`'${name}' is an integer field, got '${word}'`, t);
      const digits = m[2]!;
      const big = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
      const v = m[1] ? -big : big;
      if ((spec.type.startsWith('u') || spec.type.startsWith('fixed')) && v < 0n) fail(`'${name}' is unsigned, got ${word}`, t);
      const bits = spec.type.endsWith('32') ? 32n : 64n;
      const signed = !spec.type.startsWith('u') && !spec.type.startsWith('fixed');
      const [lo, hi] = signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
      if (v < lo || v > hi) fail(`'${name}' = ${word} is out of range for ${spec.type}`, t);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail(`'${name}' = ${word} does not fit a JavaScript number`, t);
      return Number(v);
    }
    if (FLOAT_TYPES.has(spec.type)) {
      if (t.kind === 'ident') {
        const w = word.replace(/^-/, '').toLowerCase();
        if (w === 'inf' || w === 'infinity') return word.startsWith('-') ? -Infinity : Infinity;
        if (w === 'nan') return NaN;
        return fail(`'${name}' is a floating-point field, got '${word}'`, t);
      }
      const v = Number(word.replace(/[fF]$/, ''));
      if (Number.isNaN(v)) fail(`'${name}' is a floating-point field, got '${word}'`, t);
      return v;
    }
    return fail(`'${name}' has type ${spec.type}, which this parser does not read`, t);
  };

  return parseMessage(type, undefined);
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if ('{}[]<>:,;'.includes(c)) {
      out.push({ kind: 'punct', text: c, at: i });
      i++;
    } else if (c === '"' || c === "'") {
      const at = i;
      const bytes: number[] = [];
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new Error(`pbtxt: unterminated string at offset ${at}`);
        const d = text[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d !== '\\') {
          const cp = text.codePointAt(i)!;
          bytes.push(...new TextEncoder().encode(String.fromCodePoint(cp)));
          i += cp > 0xffff ? 2 : 1;
          continue;
        }
        const e = text[i + 1];
        i += 2;
        const simple: Record<string, number> = { n: 10, r: 13, t: 9, '"': 34, "'": 39, '\\': 92, a: 7, b: 8, f: 12, v: 11, '?': 63 };
        if (e !== undefined && Object.hasOwn(simple, e)) bytes.push(simple[e]!);
        else if (e !== undefined && /[0-7]/.test(e)) {
          let oct = e;
          while (oct.length < 3 && /[0-7]/.test(text[i] ?? '')) oct += text[i++];
          const v = parseInt(oct, 8);
          if (v > 255) throw new Error(`pbtxt: octal escape \\${oct} is above 255 at offset ${at}`);
          bytes.push(v);
        } else if (e === 'x' || e === 'X') {
          let hex = '';
          while (hex.length < 2 && /[0-9a-fA-F]/.test(text[i] ?? '')) hex += text[i++];
          if (hex === '') throw new Error(`pbtxt: \\x without hex digits at offset ${at}`);
          bytes.push(parseInt(hex, 16));
        } else if (e === 'u' || e === 'U') {
          const n = e === 'u' ? 4 : 8;
          const hex = text.slice(i, i + n);
          if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new Error(`pbtxt: bad \\${e} escape at offset ${at}`);
          i += n;
          bytes.push(...new TextEncoder().encode(String.fromCodePoint(parseInt(hex, 16))));
        } else throw new Error(`pbtxt: unknown escape \\${e ?? ''} at offset ${at}`);
      }
      out.push({ kind: 'string', bytes, at });
    } else {
      const m = /^(-?\s*(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)|-?[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
      if (!m) throw new Error(`pbtxt: unexpected character '${c}' at offset ${i}`);
      const word = m[1]!.replace(/\s+/g, '');
      const numeric = /^-?[0-9.]/.test(word);
      out.push({ kind: numeric ? 'number' : 'ident', text: word, at: i });
      i += m[1]!.length;
    }
  }
  return out;
}
