#!/usr/bin/env node
// The tgate executable: the only code that touches process (argv, stdout/stderr, exit codes).
import { createRequire } from 'node:module';
import { isTgateError } from '../base/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import './signals.js'; // SIGINT/SIGTERM/SIGHUP remove unfinished output, exit 128+n (signals.ts)
import { parseCommandLine } from './program.js';
import { configureReporting, detail } from './reporter.js';
import { installTextSink } from './terminal-text.js';

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  // Colours and progress rewrites only on a terminal; control characters in data never reach one.
  const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
  installTextSink(process.stdout, color);
  installTextSink(process.stderr, !!process.stderr.isTTY);
  // A reader that stops early (`tgate help | head`) is no error; the result is written last, so
  // nothing is left half-done.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(EXIT.ok);
  });
  const json = argv.includes('--json');
  try {
    const line = parseCommandLine(argv, version(), { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    if (line.kind === 'done') return line.code;
    configureReporting(line.globals, process.stderr);
    const started = performance.now();
    const out = await line.spec.run(line.args, { stderr: process.stderr, color });
    process.stdout.write(out.stdout + '\n');
    detail(`${line.spec.name} took ${((performance.now() - started) / 1000).toFixed(2)} s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    return EXIT.ok;
  } catch (e) {
    if (isTgateError(e)) {
      if (json) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint ?? null, subject: e.subject } }, null, 2) + '\n');
      process.stderr.write(`tgate: error ${e.code}: ${e.message}\n${e.hint ? `  what to do: ${e.hint}\n` : ''}`);
      return exitCodeFor(e.code);
    }
    process.stderr.write(
      `tgate: internal error: ${(e as Error)?.stack ?? String(e)}\n  what to do: this is a bug in tgate; please report it with the command you ran.\n`,
    );
    return EXIT.internal;
  }
}

process.exitCode = await main(process.argv.slice(2));
