// One fuzz case as plain data (JSON in, JSON out): a command line as a user types it, run in a
// sandbox folder, after mutations of the sandbox's valid inputs. Plain data so that a failure
// prints as a reproduction that `node dist/bench/fuzz.js --replay '<json>'` runs again.

/** What a case mutates; also the fixture set its sandbox needs. */
export type Group = 'model' | 'manifest' | 'npy' | 'scheduler' | 'pipeline' | 'output';

/** A byte-level change; `at` is a fraction of the file's length, so it fits any file. */
export type ByteOp =
  | { op: 'set'; at: number; value: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number };

/** Replaces a file (or makes one) by something that is not a regular file of the expected kind. */
export type SpecialKind = 'fifo' | 'symlink-secret' | 'symlink-passwd' | 'symlink-zero' | 'symlink-absolute' | 'dir' | 'empty' | 'delete' | 'huge-sparse';

/**
 * A structural change of an ONNX model (applied with onnx-buf). Indices are taken modulo the
 * length of what they index, so a change fits any model; `name` and `path` are hostile strings.
 */
export type OnnxOp =
  | {
      op: 'rename';
      what: 'node-input' | 'node-output' | 'graph-input' | 'graph-output' | 'initializer' | 'node-name';
      index: number;
      slot: number;
      name: string | { sameAs: number };
    }
  | { op: 'dims'; what: 'graph-input' | 'graph-output' | 'initializer'; index: number; dim: number; value: number | string | 'drop' | 'add' }
  | { op: 'dtype'; what: 'graph-input' | 'graph-output' | 'initializer'; index: number; dtype: number }
  | {
      op: 'external';
      where: 'initializer' | 'constant' | 'if-branch';
      index: number;
      location: string;
      offset: string | null;
      length: string | null;
      dataFile: string | null;
      duplicateKey: boolean;
    }
  | {
      op: 'attribute';
      index: number;
      attr: number;
      change: { i: string } | { f: number | 'NaN' | 'Inf' } | { ints: string[] } | { s: string } | { type: number };
    }
  | { op: 'duplicate'; what: 'node' | 'graph-output' | 'initializer'; index: number }
  | { op: 'cycle'; from: number; to: number }
  | { op: 'op-type'; index: number; opType: string; domain: string | null }
  | { op: 'remove'; what: 'node' | 'graph-input' | 'graph-output' | 'initializer'; index: number }
  | { op: 'opset'; version: string; irVersion: string | null }
  | { op: 'text'; what: 'producer' | 'graph-name' | 'doc-string' | 'metadata'; value: string };

/** A change of a .npy file: its header fields, its header bytes, or its data. */
export type NpyOp =
  | { op: 'descr'; value: string }
  | { op: 'fortran' }
  | { op: 'shape'; value: string }
  | { op: 'version'; major: number }
  | { op: 'header-len'; value: number }
  | { op: 'magic'; at: number; value: number }
  | { op: 'values'; value: 'NaN' | 'Inf' | '-Inf' | 'huge' | 'denormal'; all: boolean }
  | { op: 'data-truncate'; keep: number }
  | { op: 'data-append'; bytes: number };

export type Mutation =
  | { kind: 'bytes'; file: string; ops: ByteOp[] }
  | { kind: 'special'; file: string; make: SpecialKind }
  | { kind: 'onnx'; file: string; ops: OnnxOp[] }
  /** Sets (or with value undefined removes) a JSON value; `path` null picks the `pick`-th node. */
  | { kind: 'json'; file: string; path: (string | number)[] | null; pick: number; value?: unknown; remove?: boolean }
  /** Replaces a JSON file's whole text (not an object, not JSON at all). */
  | { kind: 'text'; file: string; text: string }
  | { kind: 'npy'; file: string; ops: NpyOp[] };

/** Stopping the command part-way, as a user's Ctrl-C or a CI timeout does. */
export interface Interrupt {
  signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
  /**
   * Counted from when the work began to show: the first entry in out/ or TMPDIR (a staging
   * folder, a temp compile), so the signal lands mid-write rather than while Node loads modules.
   */
  afterMs: number;
  /** After a SIGKILL: run the same command again, which must clean up what the killed one left. */
  rerun: boolean;
}

export interface Case {
  group: Group;
  /** The arguments after `tgate`, relative to the sandbox (the child's working folder). */
  args: string[];
  mutations: Mutation[];
  /**
   * The path the command may write (relative to the sandbox), or null when it may write nothing:
   * everything else in the sandbox must be exactly as before.
   */
  output: string | null;
  /** A folder the command may add new files to (--save-trajectory DIR), never change or delete any. */
  addsInto?: string;
  interrupt?: Interrupt;
  /** The mutation keeps the input valid (e.g. weights moved to external data): the command must succeed. */
  expect?: 'ok';
}

export function commandOf(c: Case): string {
  return c.args[0] ?? '(none)';
}
