// tgate diff: what changed between two graphs, or between the source and each variant of a
// compiled folder; as text, --json, --markdown or --html, to stdout or -o FILE.
import fs from 'node:fs';
import { usageError, type ParsedArgs } from './args.js';
import { parseShapes } from '../build/schedule-cost.js';
import type { GraphDiff } from '../build/diff.js';
import { diffFolder, diffModels } from '../build/diff-folder.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import { replaceFile } from '../base/output/atomic-file.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { diffHtml, diffMarkdown, diffText } from './diff-format.js';
import { checkOutputFile } from './output-check.js';

const DIFF_USAGE = 'tgate diff <a.onnx> <b.onnx> | <compiled dir> [--json | --markdown | --html] [-o FILE] [--shape NAME=AxBxC]...';
const usage = (message: string) => usageError(message, DIFF_USAGE);

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
    diffs = [diffModels(a, b, shapes)];
    title = `tgate diff: ${a} -> ${b}`;
  } else {
    throw usage(
      positionals.length === 1
        ? `${positionals[0]} is not a compiled folder; give two models to compare, or a folder.`
        : `Expected two models or one compiled folder, got ${positionals.length} arguments.`,
    );
  }
  const format = formats[0];
  const text =
    format === 'json'
      ? JSON.stringify(diffs.length === 1 && positionals.length === 2 ? diffs[0] : diffs, null, 2)
      : format === 'markdown'
        ? diffs.map(diffMarkdown).join('\n\n')
        : format === 'html'
          ? diffHtml(diffs, title)
          : diffs.map((d) => diffText(d, !outFile && io.color === true)).join('\n\n');
  if (outFile) {
    const file = outFile;
    replaceFile(file, text.endsWith('\n') ? text : text + '\n');
    return { stdout: `wrote ${file}` };
  }
  return { stdout: text };
}
