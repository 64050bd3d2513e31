#!/usr/bin/env node
// The tgate executable: the only code that touches process (argv, stdout/stderr, exit codes).
import { createRequire } from 'node:module';
import { isTgateError } from '../compiler/errors.js';
import { runBench, runCalibrate, runCompile, runDemo, runDiff, runInspect, runMemoryProbe, runRun, USAGE, type CommandIo, type CommandOutput } from './commands.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { runGenerate } from './generate-command.js';

const COMMANDS: Record<string, (args: string[], io: CommandIo) => Promise<CommandOutput>> = {
  compile: runCompile,
  inspect: runInspect,
  diff: runDiff,
  run: runRun,
  generate: runGenerate,
  bench: runBench,
  demo: runDemo,
  calibrate: runCalibrate,
};
const HIDDEN: typeof COMMANDS = { '__memory-probe': runMemoryProbe };

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE + '\n');
    return cmd ? EXIT.ok : EXIT.usage;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(version() + '\n');
    return EXIT.ok;
  }
  const run = COMMANDS[cmd] ?? HIDDEN[cmd];
  if (!run) {
    process.stderr.write(`tgate: unknown command "${cmd}". Commands: ${Object.keys(COMMANDS).join(', ')}. Run \`tgate help\`.\n`);
    return EXIT.usage;
  }
  // `tgate <command> --help` prints the usage rather than refusing an unknown option.
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return EXIT.ok;
  }
  const json = rest.includes('--json');
  try {
    const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
    const out = await run(rest, { stderr: process.stderr, color });
    process.stdout.write(out.stdout + '\n');
    return EXIT.ok;
  } catch (e) {
    if (isTgateError(e)) {
      if (json) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint ?? null, subject: e.subject } }, null, 2) + '\n');
      process.stderr.write(`tgate: error ${e.code}: ${e.message}\n${e.hint ? `  what to do: ${e.hint}\n` : ''}`);
      return exitCodeFor(e.code);
    }
    process.stderr.write(`tgate: internal error: ${(e as Error)?.stack ?? String(e)}\n  what to do: this is a bug in tgate; please report it with the command you ran.\n`);
    return EXIT.internal;
  }
}

process.exitCode = await main(process.argv.slice(2));
