// tgate diff: what changed between two graphs, or between the source and each variant of a
// compiled folder; as text, --json, --markdown or --html, to stdout or -o FILE.
import fs from 'node:fs';
import { usageError, type ParsedArgs } from './args.js';
import { parseShapes } from '../compiler/cost/schedule-cost.js';
import { diffGraphs, type GraphDiff } from '../compiler/diff.js';
import { familyOfGraph } from '../compiler/family.js';
import { loadSource } from '../compiler/io/load.js';
import { modelFromProto } from '../compiler/io/decode.js';
import type { Graph } from '../compiler/ir/graph.js';
import { manifestGraph, readManifest, type ManifestVariant } from '../compiler/manifest.js';
import { denoiserModelOf } from '../compiler/io/pipeline-folder.js';
import { replaceFile } from '../compiler/output/atomic-file.js';
import { findAttentionSites } from '../passes/attention/find-sites.js';
import type { CommandIo, CommandOutput } from './commands.js';
import { diffHtml, diffMarkdown, diffText } from './diff-format.js';
import { checkOutputFile } from './output-check.js';

const DIFF_USAGE = 'tgate diff <a.onnx> <b.onnx> | <compiled dir> [--json | --markdown | --html] [-o FILE] [--shape NAME=AxBxC]...';
const usage = (message: string) => usageError(message, DIFF_USAGE);

/** A model file, or a source pipeline folder's denoiser. */
function graphOf(file: string): Graph {
  // diff reads graphs, never weights: data files may be absent (their references are checked).
  return modelFromProto(loadSource(denoiserModelOf(file) ?? file, { externalData: { requireFiles: false } }).proto).graph;
}

/** The source (as the planning graph: the source plus outputs) against each other variant. */
export function diffFolder(dir: string, shapes: Record<string, number[]>): GraphDiff[] {
  const m = readManifest(dir);
  const read = (v: ManifestVariant) => manifestGraph(dir, m, v).model().graph;
  const planning = m.variants.find((v) => v.name === 'planning')!;
  const base = read(planning);
  return m.variants
    .filter((v) => v.name !== 'planning')
    .map((v) => diffGraphs(base, read(v), [`${m.source.file} (${planning.file}: the source plus site outputs)`, v.file], m.family.name, shapes));
}

export async function runDiff(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  const formats = (['json', 'markdown', 'html'] as const).filter((f) => values[f]);
  if (formats.length > 1) throw usage(`Choose one of --json, --markdown, --html (got ${formats.map((f) => `--${f}`).join(' ')}).`);
  const shapes = parseShapes(values.shape as string[]);
  // -o is checked before the models are read (cli/output-check.ts): '' or a folder is refused now.
  const outFile = values.output !== undefined ? checkOutputFile(values.output, '-o') : null;
  let diffs: GraphDiff[];
  let title: string;
  if (positionals.length === 1 && fs.existsSync(positionals[0]!) && fs.statSync(positionals[0]!).isDirectory() && !denoiserModelOf(positionals[0]!)) {
    diffs = diffFolder(positionals[0]!, shapes);
    title = `tgate diff: ${positionals[0]}`;
  } else if (positionals.length === 2) {
    const [a, b] = positionals as [string, string];
    const ga = graphOf(a);
    const gb = graphOf(b);
    const { family } = familyOfGraph(ga, findAttentionSites(ga).sites.map((s) => s.type.shape?.[1] ?? null));
    diffs = [diffGraphs(ga, gb, [a, b], family, shapes)];
    title = `tgate diff: ${a} -> ${b}`;
  } else {
    throw usage(positionals.length === 1 ? `${positionals[0]} is not a compiled folder; give two models to compare, or a folder.` : `Expected two models or one compiled folder, got ${positionals.length} arguments.`);
  }
  const format = formats[0];
  const text =
    format === 'json' ? JSON.stringify(diffs.length === 1 && positionals.length === 2 ? diffs[0] : diffs, null, 2)
    : format === 'markdown' ? diffs.map(diffMarkdown).join('\n\n')
    : format === 'html' ? diffHtml(diffs, title)
    : diffs.map((d) => diffText(d, !outFile && io.color === true)).join('\n\n');
  if (outFile) {
    const file = outFile;
    replaceFile(file, text.endsWith('\n') ? text : text + '\n');
    return { stdout: `wrote ${file}` };
  }
  return { stdout: text };
}
