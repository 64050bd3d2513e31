// What tgate says on stderr besides its result, and when: errors and warnings always; notes
// (inputs it made up, files it chose) unless --quiet; progress only on a terminal, as one line
// that rewrites itself and is erased when the work ends, so pipes and CI logs get no progress
// (--verbose prints it there as plain lines); details (timings, files opened) only with
// --verbose. main.ts configures it once from the global options.
import { sequence } from './terminal-text.js';

export interface ReportingOptions {
  quiet: boolean;
  verbose: boolean;
}

interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

let options: ReportingOptions = { quiet: false, verbose: false };
let out: Out = process.stderr;
/** The progress line now on the terminal (empty: none), redrawn after a line printed over it. */
let live = '';
let ownWrite = false;

/**
 * Sets the policy and the stream (stderr). Writes to that stream that do not come from here (a
 * warning printed while a progress line shows) first erase the progress line, so they never end
 * up glued to it; the next progress update draws it again.
 */
export function configureReporting(o: ReportingOptions, stream: NodeJS.WriteStream = process.stderr): void {
  options = { ...o };
  out = stream;
  live = '';
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    if (live && !ownWrite) {
      live = '';
      write(`${sequence('lineStart')}${sequence('clearLine')}`);
    }
    return write(...args);
  }) as typeof stream.write;
}

function emit(text: string, to: Out = out): void {
  ownWrite = true;
  try {
    to.write(text);
  } finally {
    ownWrite = false;
  }
}

const tty = () => !!out.isTTY;

/** A line always printed (tgate: warning: ...). */
export function warn(text: string, to: Out = out): void {
  line(`tgate: warning: ${text}`, to);
}

/**
 * Something the user should know, e.g. an input that was made up; silenced by --quiet. `to`: the
 * stream a command was given (stderr, where the reporter writes anyway).
 */
export function note(text: string, to: Out = out): void {
  if (!options.quiet) line(`tgate: note: ${text}`, to);
}

/** Timings, files opened: only with --verbose. */
export function detail(text: string): void {
  if (options.verbose && !options.quiet) line(`tgate: ${text}`);
}

export function isVerbose(): boolean {
  return options.verbose && !options.quiet;
}

function line(text: string, to: Out = out): void {
  const redraw = live;
  if (live) emit(`${sequence('lineStart')}${sequence('clearLine')}`);
  live = '';
  emit(`${text}\n`, to);
  if (redraw) status(redraw);
}

/**
 * Progress: on a terminal one line rewritten in place (cut to the terminal's width, so it never
 * wraps); elsewhere nothing, or a plain line with --verbose.
 */
export function status(text: string, to: Out = out): void {
  if (options.quiet) return;
  if (to.isTTY) {
    const width = Math.max(20, (to.columns || 80) - 1);
    const shown = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    live = shown;
    emit(`${sequence('lineStart')}${shown}${sequence('clearLine')}`, to);
  } else if (options.verbose) {
    emit(`${text}\n`, to);
  }
}

/** Erases the progress line, once the work it reported is done. */
export function endStatus(): void {
  if (!live) return;
  live = '';
  emit(`${sequence('lineStart')}${sequence('clearLine')}`);
}

/** A bar over `total` units of work: tick(done, what) after each. */
export function progressBar(label: string, total: number, to: Out = out): { tick: (done: number, what?: string) => void; end: () => void } {
  const started = performance.now();
  return {
    tick(done, what) {
      const width = 24;
      const filled = Math.round((Math.min(done, total) / Math.max(total, 1)) * width);
      const elapsed = ((performance.now() - started) / 1000).toFixed(1);
      const text = `${label} ${done}/${total}${what ? ` ${what}` : ''} (${elapsed} s)`;
      status(to.isTTY ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}` : text, to);
    },
    end: endStatus,
  };
}

/**
 * Phases of one piece of work (compile: read, analyse, build variants, write, prove): the phase
 * now running as progress, and with --verbose each phase's time once it ends.
 */
export function phases(label: string): { phase: (name: string) => void; end: () => void } {
  let current: { name: string; at: number } | null = null;
  const close = () => {
    if (current) detail(`${label}: ${current.name} took ${((performance.now() - current.at) / 1000).toFixed(2)} s`);
    current = null;
  };
  return {
    phase(name) {
      close();
      current = { name, at: performance.now() };
      if (tty()) status(`tgate: ${label}: ${name} ...`);
    },
    end() {
      close();
      endStatus();
    },
  };
}
