// Runs passes in order, optionally verifying the IR after each, and wraps a failure with the
// pass name and what ran before it, so a broken rewrite is traced to its pass. Returns one record
// per pass (name, whether it changed the graph, its counts).
import { TgateError } from '../base/errors.js';
import type { Graph } from '../ir/graph.js';
import { verifyGraph } from '../ir/verify.js';
import type { Pass, PassResult } from './pass.js';

export interface PassRecord {
  pass: string;
  result: PassResult;
}

export interface RunOptions {
  /** Verifies the IR after each pass (default true). */
  verifyEach?: boolean;
  /** Told after each pass (and its verification), with the graph as the pass left it. */
  afterEach?: (record: PassRecord, graph: Graph) => void;
}

export function runPasses(graph: Graph, passes: Pass[], opts: RunOptions = {}): PassRecord[] {
  const records: PassRecord[] = [];
  for (const pass of passes) {
    const before = records.map((r) => r.pass).join(', ') || 'nothing';
    let res: PassResult;
    try {
      res = pass.run(graph);
    } catch (cause) {
      throw new TgateError('E_PASS_FAILED', `Pass ${pass.name} failed (after ${before}): ${(cause as Error).message}`, { subject: { pass: pass.name }, cause });
    }
    if (opts.verifyEach ?? true) {
      const problems = verifyGraph(graph);
      if (problems.length) {
        throw new TgateError('E_IR_INVALID', `Pass ${pass.name} left an invalid graph (after ${before}): ${problems.slice(0, 5).join('; ')}`, {
          subject: { pass: pass.name },
        });
      }
    }
    const record = { pass: pass.name, result: res };
    records.push(record);
    opts.afterEach?.(record, graph);
  }
  return records;
}
