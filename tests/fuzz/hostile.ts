// The hostile strings of the fuzz test: what a user, or whoever hands a user a model folder, can
// put where tgate expects a file name or a name. One list for every mutator, so a path that is
// handled well in one place and badly in another shows up as a difference between commands.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The content of <sandbox>/secret.bin: finding it in any output or message is a leak. */
export const SECRET = 'TGATE-FUZZ-SECRET-5c1e0a';
/** A line of the real /etc/passwd (root's entry), the other file a leak would show. */
export const PASSWD_LINE = /root:[^:\n]*:0:0:/;

/** Stand-in for the sandbox's absolute path inside hostile strings ({S}/secret.bin). */
export const SANDBOX_TOKEN = '{S}';

/**
 * Special files a hostile path may name, made on demand next to where the path is resolved
 * (ensureSpecials): a FIFO (opening it for reading blocks forever), symlinks that lead out of the
 * folder (to the secret, to /etc/passwd, to /dev/zero which never ends, to the sandbox root), and
 * a folder where a file is expected.
 */
export const SPECIAL = {
  fifo: 'fz-fifo',
  linkSecret: 'fz-link-secret',
  linkPasswd: 'fz-link-passwd',
  linkZero: 'fz-link-zero',
  linkDir: 'fz-link-dir',
  dir: 'fz-dir',
} as const;

export const HOSTILE_PATHS: readonly string[] = [
  '../../etc/passwd',
  '../../../../../../../../../../../../etc/passwd',
  '/etc/passwd',
  '/dev/zero',
  '../../../../../../../../../../../../dev/zero',
  '..',
  '.',
  '',
  '/',
  `${SANDBOX_TOKEN}/secret.bin`,
  '../secret.bin',
  '../../secret.bin',
  SPECIAL.linkSecret,
  SPECIAL.linkPasswd,
  SPECIAL.linkZero,
  `${SPECIAL.linkDir}/secret.bin`,
  SPECIAL.fifo,
  SPECIAL.dir,
  'x'.repeat(5000),
  'a/'.repeat(2100) + 'b',
  'x\u0000y',
  'x\u001b[2J\u001b]0;owned\u0007y',
  'x\ny',
  ' ',
  'no-such-file.bin',
  'file:///etc/passwd',
  '~/secret.bin',
  'C:\\Windows\\win.ini',
  '\\\\server\\share\\x',
  '%2e%2e/%2e%2e/secret.bin',
  'tgate.json',
  'model.onnx',
];

/** Names and free text (tensor and node names, producer, prompts): control characters and worse. */
export const HOSTILE_NAMES: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u001b[2J\u001b[H',
  'ok\u001b]0;pwned\u0007',
  'x\r\ny',
  '\u009b31m',
  '\u0008\u0008\u0008\u007f',
  '../../x',
  '/abs/name',
  'x'.repeat(70000),
  '\ud800',
  '💥',
  'tgate.cache.self.0',
  '--help',
  '%n%s%x',
  '\u202egnp.exe',
];

/** Output targets for -o, relative to the sandbox; never anything a deletion could hurt outside it. */
export const HOSTILE_OUTPUTS: readonly string[] = [
  '',
  '.',
  'in',
  'in/c',
  'in/model.onnx',
  'secret.bin',
  'out',
  'out/a/b/c/d',
  'out/' + 'x'.repeat(300),
  'out/x\u0000y',
  SPECIAL.fifo,
  SPECIAL.linkDir,
  '/proc/nonexistent/x',
  '/dev/null',
];

/** The hostile path with the sandbox's absolute path put in. */
export function resolveToken(s: string, sandbox: string): string {
  return s.split(SANDBOX_TOKEN).join(sandbox);
}

/** Makes the special files a string names inside `dir` (idempotent); `sandbox` holds secret.bin. */
export function ensureSpecials(s: string, dir: string, sandbox: string): void {
  const at = (name: string) => path.join(dir, name);
  const exists = (p: string) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  const link = (name: string, target: string) => {
    if (s.includes(name) && !exists(at(name))) fs.symlinkSync(target, at(name));
  };
  fs.mkdirSync(dir, { recursive: true });
  if (s.includes(SPECIAL.fifo) && !exists(at(SPECIAL.fifo))) execFileSync('mkfifo', [at(SPECIAL.fifo)]);
  link(SPECIAL.linkSecret, path.join(sandbox, 'secret.bin'));
  link(SPECIAL.linkPasswd, '/etc/passwd');
  link(SPECIAL.linkZero, '/dev/zero');
  link(SPECIAL.linkDir, sandbox);
  if (s.includes(SPECIAL.dir) && !exists(at(SPECIAL.dir))) fs.mkdirSync(at(SPECIAL.dir));
}

/** A short printable form of a string for reports: control characters and long runs escaped. */
export function show(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 80 ? `${j.slice(0, 60)}…(${s.length} chars)"` : j;
}
