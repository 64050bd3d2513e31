// The command line, on commander: one program with a subcommand per entry of COMMANDS, each
// declaring its options from its table (cli/program-commands.ts), with per-command --help and
// `tgate help <command>`, and "did you mean" for unknown options and commands. Commander neither
// writes errors nor exits here: its errors become TgateError E_USAGE (exit 2, with a hint) and its
// help and version text go to the writers main.ts gives, so main.ts owns every write and exit code.
import { Command, CommanderError, Help, Option } from 'commander';
import type { OptionSpec, ParsedArgs } from './args.js';
import { usageError } from './args.js';
import { COMMANDS, type CommandSpec } from './program-commands.js';

export interface GlobalOptions {
  quiet: boolean;
  verbose: boolean;
}

export type CommandLine =
  | { kind: 'command'; spec: CommandSpec; args: ParsedArgs; globals: GlobalOptions }
  /** Help or the version was printed: exit with this code. */
  | { kind: 'done'; code: number };

export interface Writers {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const SIZE_NOTE =
  'Sizes: --height and --width are image pixels for every command. The latents are the image size divided by the model\'s latent factor: a pipeline\'s VAE factor (8 for Stable Diffusion), 1 for a pixel-space model, and for a UNet compiled alone 8 (1 if its input has 3 channels, i.e. pixels). Latent sizes are printed as such ("latent 64x64").';

const GLOBAL_OPTIONS: [flags: string, description: string][] = [
  ['-q, --quiet', 'no progress or notes on stderr; warnings and errors are still printed'],
  ['-v, --verbose', 'progress in pipes too, and the time of each phase'],
];

const EXIT_CODES =
  'Exit codes: 0 ok, 2 usage, 3 unreadable or unsafe input, 4 unsupported model, 5 output refused, 6 numerical proof failed, 7 a generation turned NaN or infinite, 130/143/129 interrupted (unfinished output removed), 70 internal error (a bug in tgate).';

/** The flags commander reads for an option: "-o, --output <DIR>", "--force". */
function flagsOf(name: string, o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
}

const specOf = new WeakMap<Option, OptionSpec>();

function optionOf(name: string, o: OptionSpec): Option {
  const opt = new Option(flagsOf(name, o), o.description);
  if (o.multiple) opt.argParser((v: string, previous: string[] | undefined) => [...(previous ?? []), v]);
  if (o.default !== undefined) opt.default(o.default);
  if (o.choices) opt.choices(o.choices);
  if (o.hidden) opt.hideHelp();
  specOf.set(opt, o);
  return opt;
}

/** What a command body receives: values by long name as the option tables name them. */
function parsedArgs(cmd: Command, spec: CommandSpec, positionals: string[]): ParsedArgs {
  const values: ParsedArgs['values'] = {};
  for (const name of Object.keys(spec.options)) {
    const opt = cmd.options.find((x) => x.long === `--${name}`)!;
    const v = cmd.getOptionValue(opt.attributeName()) as string | boolean | string[] | undefined;
    // commander stores --no-verify as verify=false; the commands read values['no-verify'].
    if (opt.negate) values[name] = v === false ? true : undefined;
    else values[name] = Array.isArray(v) ? [...v] : v;
  }
  return { values, positionals };
}

function addGlobalOptions(cmd: Command, version: string): void {
  cmd.optionsGroup('Global options (before or after the command):');
  for (const [flags, description] of GLOBAL_OPTIONS) cmd.option(flags, description);
  cmd.version(version, '-V, --version', 'print the version');
  cmd.helpOption('-h, --help', 'show this help');
}

function globalsOf(...cmds: Command[]): GlobalOptions {
  return { quiet: cmds.some((c) => c.getOptionValue('quiet') === true), verbose: cmds.some((c) => c.getOptionValue('verbose') === true) };
}

function commandLine(spec: CommandSpec): string {
  return `tgate ${spec.name} ${spec.usage}`;
}

function rootHelp(help: Help): string {
  const width = Math.max(60, help.helpWidth ?? 80);
  const wrap = (text: string, indent: number) =>
    help
      .boxWrap(text, width - indent)
      .split('\n')
      .map((l) => ' '.repeat(indent) + l)
      .join('\n');
  const visible = COMMANDS.filter((c) => !c.hidden);
  const lines = [
    'tgate: ahead-of-time TGATE for ONNX diffusion models',
    '',
    'Usage: tgate <command> [options]',
    '',
    'Commands:',
    ...visible.flatMap((c) => [`  ${commandLine(c)}`, wrap(c.summary, 6)]),
    '  tgate help <command>',
    wrap("a command's options and examples (as tgate <command> --help)", 6),
    '',
    'Global options (before or after the command):',
    ...GLOBAL_OPTIONS.map(([f, d]) => `  ${f.padEnd(15)} ${d}`),
    `  ${'-V, --version'.padEnd(15)} print the version`,
    `  ${'-h, --help'.padEnd(15)} show this help`,
    '',
    wrap(SIZE_NOTE, 0),
    '',
    'Examples:',
    '  tgate demo',
    '  tgate compile fixtures/models/tiny-unet.onnx -o out/tiny-unet',
    '  tgate inspect out/tiny-unet',
    '  tgate run out/tiny-unet --steps 10 --gate-step 4 --height 64 --width 64 -o out/final.npy',
    '',
    wrap(EXIT_CODES, 0),
    '',
  ];
  return lines.join('\n');
}

function commandHelpAfter(spec: CommandSpec): string {
  const sizes = 'height' in spec.options ? `\n${new Help().boxWrap(SIZE_NOTE, process.stdout.columns || 80)}\n` : '';
  return `${sizes}\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n`;
}

/** Commander's error text ("error: unknown option '--x'\n(Did you mean --y?)") as a usage error. */
function usageFrom(e: CommanderError, command: string | null): Error {
  const [first, ...rest] = e.message.replace(/^error: /, '').split('\n');
  const suggestion = rest
    .join(' ')
    .replace(/^\((.*)\)$/, '$1')
    .trim();
  const where = command ? `tgate ${command}` : 'tgate';
  const help = command ? `\`tgate ${command} --help\` lists its options and examples.` : 'Run `tgate help` for the commands.';
  if (e.code === 'commander.unknownCommand') {
    const name = /'(.*)'/.exec(first!)?.[1] ?? first;
    const commands = COMMANDS.filter((c) => !c.hidden)
      .map((c) => c.name)
      .join(', ');
    return usageError(`unknown command "${name}". Commands: ${commands}.`, `${suggestion ? `${suggestion} ` : ''}Run \`tgate help\`.`);
  }
  // Commander's own sentences may end with a period ("Allowed choices are uniform, quadratic.").
  return usageError(`${where}: ${first!.replace(/\.$/, '')}.`, `${suggestion ? `${suggestion} ` : ''}${help}`);
}

/**
 * Parses the command line (without node and the script). Throws TgateError E_USAGE for usage
 * errors; help and --version are written through `out` and returned as done.
 */
export function parseCommandLine(argv: string[], version: string, out: Writers): CommandLine {
  let chosen: CommandLine | null = null;
  let failedIn: string | null = null;
  const program = new Command('tgate');
  program
    .usage('<command> [options]')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr, outputError: () => {} })
    .configureHelp({
      sortSubcommands: false,
      formatHelp: (cmd, helper) => (cmd === program ? rootHelp(helper) : Help.prototype.formatHelp.call(helper, cmd, helper)),
      optionDescription: (opt) => {
        const o = specOf.get(opt);
        const dflt = o?.defaultText ?? (typeof o?.default === 'string' ? o.default : undefined);
        return dflt === undefined ? opt.description : `${opt.description} (default: ${dflt})`;
      },
    })
    .exitOverride((e) => {
      throw e;
    })
    .helpCommand('help [command]', 'show the help of a command');
  addGlobalOptions(program, version);
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.name, { hidden: spec.hidden ?? false });
    cmd
      .usage(spec.usage)
      .description(spec.description)
      .summary(spec.summary)
      .argument('[arguments...]')
      .exitOverride((e) => {
        failedIn = spec.name;
        throw e;
      })
      .addHelpText('after', commandHelpAfter(spec));
    for (const [name, o] of Object.entries(spec.options)) cmd.addOption(optionOf(name, o));
    addGlobalOptions(cmd, version);
    cmd.action((positionals: string[]) => {
      chosen = { kind: 'command', spec, args: parsedArgs(cmd, spec, positionals), globals: globalsOf(program, cmd) };
    });
  }
  if (argv.length === 0) {
    out.stderr(rootHelp(program.createHelp()));
    return { kind: 'done', code: 2 };
  }
  // `tgate help nosuch`: commander would print the overview; it is an unknown command.
  const words = argv.filter((a) => !a.startsWith('-'));
  if (words[0] === 'help' && words[1] !== undefined && !COMMANDS.some((c) => c.name === words[1])) {
    throw usageFrom(new CommanderError(2, 'commander.unknownCommand', `error: unknown command '${words[1]}'`), null);
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.exitCode === 0) return { kind: 'done', code: 0 };
    // The overview, printed on stderr for a command line without a command (`tgate -v`).
    if (e.code === 'commander.help') return { kind: 'done', code: 2 };
    throw usageFrom(e, failedIn);
  }
  // Global options alone (`tgate -v`): no command.
  if (!chosen) {
    out.stderr(rootHelp(program.createHelp()));
    return { kind: 'done', code: 2 };
  }
  return chosen;
}
