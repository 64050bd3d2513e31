// Applies a case's mutations to the files of its sandbox. Every mutation is described by data
// (case.ts), so the same case always makes the same files.
import fs from 'node:fs';
import path from 'node:path';
import type { ByteOp, Mutation, NpyOp, SpecialKind } from './case.js';
import { ensureSpecials, resolveToken } from './hostile.js';
import { mutateOnnxFile } from './onnx-mutate.js';

const frac = (at: number, n: number) => Math.min(n, Math.max(0, Math.floor(at * n)));

/** Applies the mutations in order; returns notes on those that had nothing to act on. */
export function applyMutations(sandbox: string, mutations: Mutation[]): string[] {
  const notes: string[] = [];
  for (const m of mutations) {
    const file = path.join(sandbox, m.file);
    switch (m.kind) {
      case 'bytes':
        if (!isFile(file)) notes.push(`bytes: ${m.file} is not a file`);
        else fs.writeFileSync(file, mutateBytes(fs.readFileSync(file), m.ops));
        break;
      case 'special':
        makeSpecial(file, m.make, sandbox);
        break;
      case 'onnx':
        if (!isFile(file)) notes.push(`onnx: ${m.file} is not a file`);
        else notes.push(...mutateOnnxFile(file, m.ops, sandbox));
        break;
      case 'json':
        if (!isFile(file)) notes.push(`json: ${m.file} is not a file`);
        else notes.push(...mutateJson(file, m, sandbox));
        break;
      case 'text':
        if (!absentOrFile(file)) notes.push(`text: ${m.file} is not a file`);
        else fs.writeFileSync(file, resolveToken(m.text, sandbox));
        break;
      case 'npy':
        if (!isFile(file)) notes.push(`npy: ${m.file} is not a file`);
        else fs.writeFileSync(file, mutateNpy(fs.readFileSync(file), m.ops));
        break;
    }
  }
  return notes;
}

/**
 * Mutations act on regular files of sane size only: after an earlier mutation made the file a
 * symlink (to the secret, to /dev/zero) or a 16 GiB sparse file, reading or writing through it
 * would hurt the harness or the sandbox's secret, not tgate.
 */
export function isFile(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return st.isFile() && st.size <= 64 << 20;
  } catch {
    return false;
  }
}

function absentOrFile(p: string): boolean {
  try {
    fs.lstatSync(p);
  } catch {
    return true;
  }
  return isFile(p);
}

export function mutateBytes(input: Uint8Array, ops: ByteOp[]): Uint8Array {
  let b: Buffer = Buffer.from(input);
  for (const o of ops) {
    const i = frac(o.at, b.length);
    if (o.op === 'set' && i < b.length) b[i] = o.value & 0xff;
    else if (o.op === 'flip' && i < b.length) b[i] = b[i]! ^ (1 << (o.bit & 7));
    else if (o.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(o.bytes), b.subarray(i)]);
    else if (o.op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + o.count))]);
    else if (o.op === 'truncate') b = b.subarray(0, i);
  }
  return b;
}

function makeSpecial(file: string, make: SpecialKind, sandbox: string): void {
  fs.rmSync(file, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const dir = path.dirname(file);
  const linkTo = (special: string) => {
    ensureSpecials(special, dir, sandbox);
    fs.renameSync(path.join(dir, special), file);
  };
  switch (make) {
    case 'fifo':
      return linkTo('fz-fifo');
    case 'symlink-secret':
      return linkTo('fz-link-secret');
    case 'symlink-passwd':
      return linkTo('fz-link-passwd');
    case 'symlink-zero':
      return linkTo('fz-link-zero');
    case 'symlink-absolute':
      return fs.symlinkSync(path.join(sandbox, 'secret.bin'), file);
    case 'dir':
      return fs.mkdirSync(file);
    case 'empty':
      return fs.writeFileSync(file, '');
    case 'delete':
      return;
    case 'huge-sparse': {
      // 16 GiB of zeros that take no disk: a size check before reading is what keeps this cheap.
      fs.writeFileSync(file, '');
      fs.truncateSync(file, 16 * 1024 ** 3);
      return;
    }
  }
}

type JsonMutation = Extract<Mutation, { kind: 'json' }>;

/** Every path in a JSON value, depth first (the root is []). */
function jsonPaths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) jsonPaths(x, [...at, k], out);
  return out;
}

function mutateJson(file: string, m: JsonMutation, sandbox: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return [`json: ${m.file} is not JSON`];
  }
  // A named path whose indices wrap around the arrays met; null: the pick-th node of the tree.
  let p: (string | number)[];
  if (m.path) {
    p = [];
    let cur: unknown = doc;
    for (const k of m.path) {
      if (typeof k === 'number' && Array.isArray(cur)) {
        if (!cur.length) return [`json: empty array at ${p.join('.')}`];
        const i = k % cur.length;
        p.push(i);
        cur = cur[i];
      } else if (typeof k === 'string' && cur && typeof cur === 'object' && !Array.isArray(cur)) {
        p.push(k);
        cur = (cur as Record<string, unknown>)[k];
      } else return [`json: no ${m.path.join('.')} in ${m.file}`];
    }
  } else {
    const all = jsonPaths(doc);
    p = all[m.pick % all.length]!;
  }
  const value = typeof m.value === 'string' ? resolveToken(m.value, sandbox) : m.value;
  if (typeof value === 'string') ensureSpecials(value, path.dirname(file), sandbox);
  if (p.length === 0) doc = m.remove ? {} : value;
  else {
    let parent: unknown = doc;
    for (const k of p.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
    const last = p[p.length - 1]!;
    if (m.remove) {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete (parent as Record<string, unknown>)[last];
    } else (parent as Record<string | number, unknown>)[last] = value;
  }
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return [];
}

/** The parts of a .npy file: header text and data (version 1: 2-byte length, 2/3: 4-byte). */
function splitNpy(b: Buffer): { major: number; header: string; data: Buffer } | null {
  if (b.length < 10) return null;
  const major = b[6]!;
  const len = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + len > b.length) return null;
  return { major, header: b.subarray(start, start + len).toString('latin1'), data: b.subarray(start + len) };
}

function joinNpy(header: string, data: Buffer): Buffer {
  const padded = header.trimEnd();
  const total = Math.ceil((10 + padded.length + 1) / 64) * 64;
  const h = padded.padEnd(total - 11, ' ') + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(Math.min(0xffff, h.length), 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), data]);
}

export function mutateNpy(input: Uint8Array, ops: NpyOp[]): Uint8Array {
  let b: Buffer = Buffer.from(input);
  for (const o of ops) {
    const parts = splitNpy(b);
    switch (o.op) {
      case 'descr':
        if (parts) b = joinNpy(parts.header.replace(/'descr':\s*'[^']*'/, `'descr': '${o.value}'`), parts.data);
        break;
      case 'fortran':
        if (parts) b = joinNpy(parts.header.replace('False', 'True'), parts.data);
        break;
      case 'shape':
        if (parts) b = joinNpy(parts.header.replace(/'shape':\s*\([^)]*\)/, `'shape': ${o.value}`), parts.data);
        break;
      case 'version':
        if (b.length > 6) b[6] = o.major & 0xff;
        break;
      case 'header-len':
        if (b.length >= 10) b.writeUInt16LE(o.value & 0xffff, 8);
        break;
      case 'magic':
        if (b.length >= 6) b[o.at % 6] = o.value & 0xff;
        break;
      case 'values': {
        if (!parts) break;
        const v = { NaN: Number.NaN, Inf: Number.POSITIVE_INFINITY, '-Inf': Number.NEGATIVE_INFINITY, huge: 3.0e38, denormal: 1e-44 }[o.value];
        const data = Buffer.from(parts.data);
        const n = Math.floor(data.length / 4);
        for (let i = 0; i < n; i += o.all ? 1 : n) data.writeFloatLE(v, i * 4);
        b = joinNpy(parts.header, data);
        break;
      }
      case 'data-truncate':
        if (parts) b = joinNpy(parts.header, parts.data.subarray(0, frac(o.keep, parts.data.length)));
        break;
      case 'data-append':
        if (parts) b = joinNpy(parts.header, Buffer.concat([parts.data, Buffer.alloc(o.bytes, 0x3f)]));
        break;
    }
  }
  return b;
}
