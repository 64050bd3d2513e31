// Every `npx tgate ...` line in the README's shell blocks runs and succeeds (those on ../shared
// skip with a printed reason when it is absent). The README stays true or this fails.
import fs from 'node:fs';
import path from 'node:path';
import { tgate, tgateAsync } from './helpers/cli.js';
import { startKServeServer, type KServeServer } from './helpers/kserve-server.js';
import { ROOT, sharedAvailable } from './helpers/paths.js';
import { serveRepository } from './helpers/triton-repo.js';

function readmeCommands(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((b) => b.split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx tgate '));
}

const commands = readmeCommands();
const shared = sharedAvailable('README examples on ../shared');

describe('README', () => {
  it('has CLI examples to run', () => {
    expect(commands.length).toBeGreaterThanOrEqual(4);
    expect(commands.some((c) => c.includes('compile'))).toBe(true);
    expect(commands.some((c) => c.includes('inspect'))).toBe(true);
  });

  it('documents setting up, running the demo and testing', () => {
    const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(text).toMatch(/```sh\nnpm ci\nnpx tgate demo\nnpm test\n```/);
  });

  // Output folders the examples write are cleared first, so each runs as on a fresh clone.
  beforeAll(() => {
    for (const c of commands) {
      const m = / -o (\S+)/.exec(c);
      if (m && m[1]!.startsWith('out/')) fs.rmSync(path.join(ROOT, m[1]!), { recursive: true, force: true });
    }
  });

  // `--server http://localhost:8000 --model NAME` lines: an in-process KServe v2 server over the
  // repository an earlier `export triton` line wrote with that model in it (as Triton would serve it).
  const servers = new Map<string, KServeServer>();
  afterAll(async () => {
    for (const s of servers.values()) await s.close();
  });
  async function serverFor(model: string): Promise<string> {
    const repo = commands
      .filter((c) => c.startsWith('npx tgate export triton '))
      .map((c) => / -o (\S+)/.exec(c)![1]!)
      .find((r) => fs.existsSync(path.join(ROOT, r, model)));
    if (!repo) throw new Error(`no export line above writes a repository with the model ${model}`);
    if (!servers.has(repo)) servers.set(repo, await startKServeServer({ models: await serveRepository(path.join(ROOT, repo)) }));
    return servers.get(repo)!.url;
  }

  it.each(commands)('%s', async (command) => {
    // Runs of folders that only the ../shared examples compile are skipped with them.
    if ((command.includes('../shared') || command.includes('out/sd15-tiny') || command.includes('out/sdxl-tiny')) && !shared) return;
    // Words, with "double-quoted" ones kept whole, as a shell would.
    const args = [...command.replace(/^npx tgate /, '').matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    const server = args.indexOf('--server');
    if (server >= 0) args[server + 1] = await serverFor(args[args.indexOf('--model') + 1]!);
    // A server in this process needs the event loop free while the CLI runs.
    const r = server >= 0 ? await tgateAsync(args) : tgate(args);
    if (r.status !== 0) throw new Error(`exit ${r.status}\n${r.stderr}`);
    expect(r.stdout.length).toBeGreaterThan(0);
    if (args.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
    const out = / -o (\S+)/.exec(command)?.[1];
    if (out && args[0] === 'compile') expect(fs.readdirSync(path.join(ROOT, out))).toContain('tgate.json');
    if (out && args[0] === 'run') expect(fs.statSync(path.join(ROOT, out)).size).toBeGreaterThan(128);
  });
});
