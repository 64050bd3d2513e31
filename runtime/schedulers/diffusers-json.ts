// JSON as Python's json module writes it: diffusers saves `"lambda_min_clipped": -Infinity` (and
// could save NaN), which JSON.parse rejects. This reader is strict JSON plus the tokens NaN,
// Infinity and -Infinity outside strings; a malformed file is a TgateError naming the file and
// the line and column.
import { TgateError } from '../../base/errors.js';
import { readUserFile } from '../../io/user-file.js';

export function parseDiffusersJson(text: string, source: string): unknown {
  let i = 0;
  const fail = (what: string, at = i): never => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    // No excerpt of the text: a file named by mistake (a key, /etc/passwd through a symlink) must
    // not end up in a CI log; line and column are enough to find the fault.
    throw new TgateError('E_BAD_PIPELINE', `${source} is not valid JSON: ${what} at line ${line}, column ${column} (offset ${at}).`, {
      subject: { file: source },
      hint: 'Diffusers writes these files with json.dumps; re-save the config (scheduler.save_config) or fix the file by hand.',
    });
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const word = (w: string) => text.startsWith(w, i);
  const value = (depth: number): unknown => {
    if (depth > 512) fail('nesting too deep');
    ws();
    const ch = text[i];
    if (ch === undefined) return fail('unexpected end of file');
    if (ch === '{') {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "quoted" key');
        const key = string();
        ws();
        if (text[i] !== ':') fail("expected ':' after a key");
        i++;
        const v = value(depth + 1);
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return out;
        }
        fail("expected ',' or '}'");
      }
    }
    if (ch === '[') {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return out;
        }
        fail("expected ',' or ']'");
      }
    }
    if (ch === '"') return string();
    if (word('true')) return ((i += 4), true);
    if (word('false')) return ((i += 5), false);
    if (word('null')) return ((i += 4), null);
    if (word('NaN')) return ((i += 3), NaN);
    if (word('Infinity')) return ((i += 8), Infinity);
    if (word('-Infinity')) return ((i += 9), -Infinity);
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail(`unexpected character (code ${ch.codePointAt(0)})`);
    i += m[0].length;
    return Number(m[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    for (;;) {
      const ch = text[i];
      if (ch === undefined) return fail('unterminated string', start);
      if (ch === '"') break;
      if (ch === '\\') i++;
      else if (ch < ' ') fail('control character in a string');
      i++;
    }
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in a string', start);
    }
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const out = value(0);
  ws();
  if (i < text.length) fail('unexpected text after the JSON value');
  return out;
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
