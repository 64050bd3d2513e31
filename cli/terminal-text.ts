// Everything tgate prints reaches a terminal, and much of it is data: node and tensor names, the
// producer string, file names, prompts, messages that quote them. A model can put ESC sequences
// in those (clear the screen, set the window title, rewrite what was printed before), so the
// executable routes every write to stdout and stderr through renderTerminalText (installTextSink),
// which escapes every control character but the newline. tgate's own sequences (the diff's
// colours, the progress line's rewrite) are asked for with markers that carry a random token made
// at start-up: data cannot forge them, and they become real sequences only at the sink, only on a
// terminal (elsewhere they are dropped). JSON output stays valid: the escape form is JSON's \uXXXX.
import { randomBytes } from 'node:crypto';

/**
 * C0 controls (tab and carriage return included: both move the cursor), DEL, C1 controls
 * (U+0080-U+009F: 8-bit CSI, OSC...) and the bidirectional overrides and isolates, which reorder
 * what a terminal shows. The newline is the only control let through.
 */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** The printable escape of a control character: \u001b, as JSON writes it. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** tgate's own terminal sequences; markers name them, the sink writes them. */
const SEQUENCES = {
  red: '\u001b[31m',
  green: '\u001b[32m',
  reset: '\u001b[0m',
  /** Back to the start of the line (a progress line rewrites itself). */
  lineStart: '\r',
  /** Erase to the end of the line. */
  clearLine: '\u001b[K',
} as const;
export type Sequence = keyof typeof SEQUENCES;

// A private-use character and 96 random bits: no model, file or prompt can contain the marker.
const TOKEN = `\u{f8ff}${randomBytes(12).toString('hex')}`;
const MARKER = new RegExp(`${TOKEN}\\{(${Object.keys(SEQUENCES).join('|')})\\}`, 'g');

/** A marker for one of tgate's sequences, to put into text written to stdout or stderr. */
export function sequence(name: Sequence): string {
  return `${TOKEN}{${name}}`;
}

/** Text in a colour on a terminal, plain elsewhere. */
export function paint(color: 'red' | 'green', text: string): string {
  return `${sequence(color)}${text}${sequence('reset')}`;
}

/** Escapes the data; turns tgate's markers into their sequences on a terminal, drops them elsewhere. */
export function renderTerminalText(text: string, terminal: boolean): string {
  return escapeControls(text).replace(MARKER, (_, name: Sequence) => (terminal ? SEQUENCES[name] : ''));
}

/**
 * Makes every write to the stream go through renderTerminalText: tgate's, commander's, Node's own
 * warnings. `terminal`: whether the stream takes tgate's sequences (a TTY, colours not refused).
 */
export function installTextSink(stream: NodeJS.WriteStream, terminal: boolean): void {
  const write = stream.write.bind(stream) as (chunk: string, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    // write(chunk, encoding?, callback?): bytes and encoded strings are decoded to text first.
    const encoding = typeof rest[0] === 'string' ? (rest.shift() as BufferEncoding) : 'utf8';
    const text =
      typeof chunk === 'string' ? (encoding === 'utf8' ? chunk : Buffer.from(chunk, encoding).toString('utf8')) : Buffer.from(chunk).toString('utf8');
    return write(renderTerminalText(text, terminal), 'utf8', ...rest);
  }) as typeof stream.write;
}
