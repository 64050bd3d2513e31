// JSON as Python's json module writes it: diffusers saves `"lambda_min_clipped": -Infinity` (and
// could save NaN), which JSON.parse rejects. This reader is strict JSON plus the tokens NaN,
// Infinity and -Infinity outside strings; a malformed file is a TgateError naming the file and
// the line and column.
import { TgateError } from '../../base/errors.js';
import { readUserFile } from '../../io/user-file.js';

export function parseDiffusersJson(text: string, source: string): unknown {
  const r = new JsonReader(text, source);
  if (text.charCodeAt(0) === 0xfeff) r.i = 1;
  const out = r.value(0);
  r.ws();
  if (r.i < text.length) r.fail('unexpected text after the JSON value');
  return out;
}

/** A recursive-descent reader over `text`; `i` is the offset of the next character to read. */
class JsonReader {
  i = 0;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  fail(what: string, at = this.i): never {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    // No excerpt of the text: a file named by mistake (a key, /etc/passwd through a symlink) must
    // not end up in a CI log; line and column are enough to find the fault.
    throw new TgateError('E_BAD_PIPELINE', `${this.source} is not valid JSON: ${what} at line ${line}, column ${column} (offset ${at}).`, {
      subject: { file: this.source },
      hint: 'Diffusers writes these files with json.dumps; re-save the config (scheduler.save_config) or fix the file by hand.',
    });
  }

  ws(): void {
    const text = this.text;
    while (this.i < text.length && (text[this.i] === ' ' || text[this.i] === '\t' || text[this.i] === '\n' || text[this.i] === '\r')) this.i++;
  }

  /** One value; `depth` bounds the nesting, so a hostile file cannot overflow the stack. */
  value(depth: number): unknown {
    if (depth > 512) this.fail('nesting too deep');
    this.ws();
    const ch = this.text[this.i];
    if (ch === undefined) return this.fail('unexpected end of file');
    if (ch === '{') return this.object(depth);
    if (ch === '[') return this.array(depth);
    if (ch === '"') return this.string();
    return this.literal(ch);
  }

  private object(depth: number): Record<string, unknown> {
    const text = this.text;
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (text[this.i] !== '"') this.fail('expected a "quoted" key');
      const key = this.string();
      this.ws();
      if (text[this.i] !== ':') this.fail("expected ':' after a key");
      this.i++;
      const v = this.value(depth + 1);
      // defineProperty, not assignment: a "__proto__" key is data, not the object's prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === '}') {
        this.i++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): unknown[] {
    const text = this.text;
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === ']') {
        this.i++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  /** true, false, null, Python's NaN and infinities, or a number; `ch` is the character at `i`. */
  private literal(ch: string): unknown {
    const word = (w: string) => this.text.startsWith(w, this.i);
    if (word('true')) return ((this.i += 4), true);
    if (word('false')) return ((this.i += 5), false);
    if (word('null')) return ((this.i += 4), null);
    if (word('NaN')) return ((this.i += 3), NaN);
    if (word('Infinity')) return ((this.i += 8), Infinity);
    if (word('-Infinity')) return ((this.i += 9), -Infinity);
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m) return this.fail(`unexpected character (code ${ch.codePointAt(0)})`);
    this.i += m[0].length;
    return Number(m[0]);
  }

  /** A quoted string at `i`; its escapes are decoded by JSON.parse, which refuses a bad one. */
  private string(): string {
    const text = this.text;
    const start = this.i;
    this.i++;
    for (;;) {
      const ch = text[this.i];
      if (ch === undefined) return this.fail('unterminated string', start);
      if (ch === '"') break;
      if (ch === '\\') this.i++;
      else if (ch < ' ') this.fail('control character in a string');
      this.i++;
    }
    this.i++;
    try {
      return JSON.parse(text.slice(start, this.i)) as string;
    } catch {
      return this.fail('bad escape in a string', start);
    }
  }
}

/**
 * Reads a diffusers/transformers config file a user names (see parseDiffusersJson): a regular
 * file of at most 64 MiB (user-file.ts), so a folder, a FIFO or /dev/zero is a coded error.
 */
export function readDiffusersJson(file: string): unknown {
  const bytes = readUserFile(file, {
    what: 'config file',
    maxBytes: 64 * 1024 * 1024,
    hint: 'Give a diffusers scheduler_config.json (scheduler.save_config writes one).',
  });
  return parseDiffusersJson(new TextDecoder('utf-8').decode(bytes), file);
}
