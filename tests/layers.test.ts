// The layers are folders, and imports only go down: base -> ir -> io -> analyses -> passes ->
// build -> runtime -> cli -> index.ts. Inside the runtime, the schedulers and the tokenizer are
// leaves below the sampler, and runtime/pipeline sits above it; other sub-folders share their
// layer's rank (analyses/attention, shapes and cost may use each other, without file cycles). This test reads every shipped source file
// with TypeScript's own parser (type-only imports, re-exports and dynamic import() included) and
// fails on an upward import, an import cycle between files, an import of fixtures/, bench/ or
// tests/ from shipped code, on a package used outside the layer that owns it, and on a module
// private to its layer (the IR wiring, the retained protos) imported from outside it.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers/paths.js';
import { tsSourceFiles } from './helpers/source-files.js';

export const LAYERS = ['base', 'ir', 'io', 'analyses', 'passes', 'build', 'runtime', 'cli'] as const;
/** Sub-folders with a rank of their own, between their layer and the next. */
const SUB_RANKS: Record<string, number> = { 'runtime/schedulers': 6, 'runtime/tokenizer': 6, runtime: 6.5, 'runtime/pipeline': 6.8 };

interface Import {
  from: string;
  /** Repo-relative .ts path for a relative import; the package name otherwise. */
  to: string;
  relative: boolean;
  typeOnly: boolean;
  line: number;
}

function sourceFiles(): string[] {
  return tsSourceFiles(LAYERS);
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Import[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, at: ts.Node) => {
    if (!spec || !ts.isStringLiteral(spec)) return;
    const s = spec.text;
    const relative = s.startsWith('.');
    const to = relative
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts')
      : s.startsWith('@')
        ? s.split('/').slice(0, 2).join('/')
        : s.split('/')[0]!;
    out.push({ from: file, to, relative, typeOnly, line: sf.getLineAndCharacterOfPosition(at.getStart()).line + 1 });
  };
  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const allTypeNamed =
        !!c?.namedBindings &&
        ts.isNamedImports(c.namedBindings) &&
        !c.name &&
        c.namedBindings.elements.length > 0 &&
        c.namedBindings.elements.every((e) => e.isTypeOnly);
      add(n.moduleSpecifier, !!c?.isTypeOnly || allTypeNamed, n);
    } else if (ts.isExportDeclaration(n)) {
      const allTypeNamed =
        !!n.exportClause && ts.isNamedExports(n.exportClause) && n.exportClause.elements.length > 0 && n.exportClause.elements.every((e) => e.isTypeOnly);
      add(n.moduleSpecifier, n.isTypeOnly || allTypeNamed, n);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(n.arguments[0], false, n);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
      add(n.argument.literal as ts.Expression, true, n);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The rank of a file: its layer's index, or its sub-folder's own rank; -1 outside the shipped layers. */
function rankOf(file: string): number {
  if (file === 'index.ts') return LAYERS.length;
  const dir = path.posix.dirname(file);
  const sub = Object.keys(SUB_RANKS)
    .filter((s) => dir === s || dir.startsWith(`${s}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (sub !== undefined) return SUB_RANKS[sub]!;
  return LAYERS.indexOf(file.split('/')[0] as (typeof LAYERS)[number]);
}

const FILES = sourceFiles();
const IMPORTS = FILES.flatMap(importsOf);
const where = (i: Import) => `${i.from}:${i.line} imports ${i.to}`;

/** Strongly connected components with more than one file (Tarjan), over the given edges. */
function cycles(edges: Import[]): string[][] {
  const adj = new Map<string, string[]>(FILES.map((f) => [f, []]));
  for (const e of edges) if (e.relative && adj.has(e.to)) adj.get(e.from)!.push(e.to);
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const f of FILES) if (!index.has(f)) connect(f);
  return out;
}

describe('layers', () => {
  it('reads the whole source tree (the scan itself works)', () => {
    expect(FILES.length).toBeGreaterThan(140);
    for (const l of LAYERS) expect(FILES.some((f) => f.startsWith(`${l}/`))).toBe(true);
    // Every relative import resolves to a file the scan knows: a moved file cannot hide from it.
    const unknown = IMPORTS.filter((i) => i.relative && !FILES.includes(i.to) && !i.to.endsWith('.json'));
    expect(unknown.map(where)).toEqual([]);
  });

  it('imports only go down the layers', () => {
    const upward = IMPORTS.filter((i) => i.relative && rankOf(i.to) > rankOf(i.from));
    expect(upward.map(where)).toEqual([]);
  });

  it('shipped code never imports fixtures/, bench/ or tests/', () => {
    const outside = IMPORTS.filter((i) => i.relative && rankOf(i.to) < 0);
    expect(outside.map(where)).toEqual([]);
  });

  it('has no import cycle between files (type-only imports count, but for Value <-> Node)', () => {
    // Value and Node are one concept split in two files: a value's producer is a node, a node's
    // inputs are values. They refer to each other by type only, which TypeScript erases.
    const allowed = new Set(['ir/node.ts', 'ir/value.ts']);
    const typePair = (i: Import) => i.typeOnly && allowed.has(i.from) && allowed.has(i.to);
    expect(cycles(IMPORTS.filter((i) => !typePair(i)))).toEqual([]);
    // The pair itself stays type-only: at run time, nothing cycles.
    expect(cycles(IMPORTS.filter((i) => !i.typeOnly))).toEqual([]);
  });

  it('each package is used only by the layer that owns it', () => {
    const owners: Record<string, (file: string, i: Import) => boolean> = {
      // The protobuf schema lives only in the model I/O layer.
      'onnx-buf': (f) => f.startsWith('io/'),
      '@bufbuild/protobuf': (f) => f.startsWith('io/'),
      // onnxruntime-node: only the runtime, and its values through one module (runtime/ort.ts
      // sets the environment onnxruntime reads before any session exists).
      'onnxruntime-node': (f, i) => f.startsWith('runtime/') && (i.typeOnly || f === 'runtime/ort.ts'),
      // The command line belongs to the CLI.
      commander: (f) => f.startsWith('cli/'),
      'node:process': (f) => f.startsWith('cli/'),
      'node:child_process': (f) => f.startsWith('cli/'),
    };
    const wrong = IMPORTS.filter((i) => !i.relative && owners[i.to] && !owners[i.to]!(i.from, i));
    expect(wrong.map(where)).toEqual([]);
  });

  it('the IR wiring and the retained protos stay private to their layers', () => {
    // ir/internal.ts holds the symbols that change producer/use links: only the IR itself edits them.
    // io/retained.ts turns the opaque tokens back into protobuf: only io/. ir/retained.ts is the
    // token's type: the IR carries it and io/ makes and reads it; nothing above names it.
    const rules: Record<string, (from: string) => boolean> = {
      'ir/internal.ts': (f) => f.startsWith('ir/'),
      'io/retained.ts': (f) => f.startsWith('io/'),
      'ir/retained.ts': (f) => f.startsWith('ir/') || f.startsWith('io/'),
    };
    for (const to of Object.keys(rules)) expect(FILES).toContain(to);
    expect(IMPORTS.some((i) => i.relative && i.to === 'ir/internal.ts')).toBe(true);
    const wrong = IMPORTS.filter((i) => i.relative && rules[i.to] && !rules[i.to]!(i.from));
    expect(wrong.map(where)).toEqual([]);
  });

  it('the layers below the runtime never touch the process (no process.*, no console)', () => {
    const below = FILES.filter((f) => rankOf(f) < LAYERS.indexOf('runtime'));
    const hits: string[] = [];
    for (const f of below) {
      const sf = ts.createSourceFile(f, fs.readFileSync(path.join(ROOT, f), 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (n: ts.Node) => {
        if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && (n.expression.text === 'process' || n.expression.text === 'console')) {
          hits.push(`${f}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${n.getText()}`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(hits).toEqual([]);
  });
});
