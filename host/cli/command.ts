// A subcommand (`runbox vm ls`, `runbox image build`) as data plus two functions, after GitHub
// cli's pkg/cmd/<noun>/<verb>: its own flags and usage, a pure parse() from argv to the options
// it runs with (throws UsageError; testable without IO), and run(options, io) doing the work.
import { parseArgs } from 'node:util';
import { EXIT, UsageError, runVerb } from './exit.js';
import type { CliIo } from './io.js';
import type { Options } from './common.js';

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

type WithHelp<F extends Options> = F & typeof HELP;
type Config<F extends Options> = { args: string[]; options: WithHelp<F>; allowPositionals: true; strict: true };
/** The values parseArgs gives for flags F (plus --help). */
export type FlagValues<F extends Options> = ReturnType<typeof parseArgs<Config<F>>>['values'];

export interface Command<O> {
  /** How messages name it: 'vm ls'. */
  readonly name: string;
  readonly usage: string;
  /** The flags it takes besides -h/--help; any other flag is a usage error naming it. */
  readonly flags: Options;
  /** argv (after the subcommand's name) → 'help' or the options to run with. No IO. */
  parse(argv: string[]): 'help' | O;
  run(options: O, io: CliIo): Promise<number>;
}

export interface CommandSpec<F extends Options, O> {
  name: string;
  usage: string;
  flags: F;
  /** Checks positionals and flag values (counts, choices, integers) and builds the options. */
  options(values: FlagValues<F>, positionals: string[]): O;
  run(options: O, io: CliIo): Promise<number>;
}

/**
 * The first flag in argv that `flags` does not know, as written (`--wait-ms`, `-x`); parseArgs'
 * own message for it suggests `--` instead of saying whose flag it is not.
 */
function unknownFlag(argv: string[], flags: Options): string | undefined {
  const { tokens } = parseArgs({ args: argv, options: flags, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !Object.hasOwn(flags, token.name)) return token.rawName;
  }
  return undefined;
}

/** Parses argv against `flags` (plus --help); every error is a UsageError. */
export function parseFlags<F extends Options>(name: string, argv: string[], flags: F): { values: FlagValues<F>; positionals: string[] } {
  const options = { ...flags, ...HELP } as WithHelp<F>;
  const unknown = unknownFlag(argv, options);
  if (unknown !== undefined) throw new UsageError(`${unknown} is not an option of ${name}`);
  try {
    return parseArgs<Config<F>>({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function defineCommand<F extends Options, O>(spec: CommandSpec<F, O>): Command<O> {
  return {
    name: spec.name,
    usage: spec.usage,
    flags: spec.flags,
    parse(argv) {
      const { values, positionals } = parseFlags(spec.name, argv, spec.flags);
      // --help wins over bad positionals, as in every other verb.
      if ((values as { help?: boolean }).help) return 'help';
      return spec.options(values, positionals);
    },
    run: (options, io) => spec.run(options, io),
  };
}

/** Parses and runs `command`; --help prints its usage on stdout and gives 0. */
export async function runCommand<O>(command: Command<O>, argv: string[], io: CliIo): Promise<number> {
  const options = command.parse(argv);
  if (options === 'help') {
    io.stdout.write(command.usage);
    return EXIT.ok;
  }
  return command.run(options, io);
}

/** A noun with subcommands (`runbox vm`, `runbox image`), each loaded only when it runs. */
export interface CommandGroup {
  /** 'vm' */
  name: string;
  /** The group's overall usage: for --help, a missing or an unknown subcommand. */
  usage: string;
  subcommands: Record<string, () => Promise<Command<unknown>>>;
  /** Other names of subcommands, e.g. { list: 'ls' }. */
  aliases?: Record<string, string>;
  /** Where the usage goes when no subcommand is given (exit 2). */
  missingUsageTo: 'stdout' | 'stderr';
}

function orList(names: string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** Picks the subcommand, then parses and runs it; errors map to exit codes by runVerb. */
export async function runGroup(group: CommandGroup, argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? io[group.missingUsageTo] : io.stdout).write(group.usage);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const name = group.aliases && Object.hasOwn(group.aliases, sub) ? group.aliases[sub]! : sub;
  const load = Object.hasOwn(group.subcommands, name) ? group.subcommands[name] : undefined;
  if (!load) {
    const known = orList(Object.keys(group.subcommands));
    return runVerb(group.usage, io, () => Promise.reject(new UsageError(`unknown ${group.name} command '${sub}': expected ${known}`)));
  }
  const command = await load();
  return runVerb(command.usage, io, () => runCommand(command, rest, io));
}
