// Command-line options with nvme-cli's names (long and short), parsed with node:util's
// parseArgs, and the checks every subcommand shares: the controller address, numbers in
// decimal or 0x hex, the namespace id, the output format. Bad input is a VfioError with
// a hint, which the dispatcher prints as "vfio-node: message\n  hint: ...".

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VfioError, invalidArgument } from '@vfio-node/core';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OutputFormat = 'normal' | 'json';

/** Options every subcommand takes. */
const COMMON: OptionSpec = {
  'output-format': { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
};

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  format: OutputFormat;
  help: boolean;
}

/** Parses argv of `vfio-node nvme <sub>` against the subcommand's options. */
export function parseNvmeArgs(sub: string, argv: string[], options: OptionSpec): Parsed {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new VfioError({
      code: 'ERR_INVALID_ARG',
      message: `nvme ${sub}: ${(err as Error).message}`,
      hint: `Run 'vfio-node nvme ${sub} --help' for its options.`,
    });
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const o = values['output-format'];
  if (o !== undefined && o !== 'normal' && o !== 'json') {
    throw invalidArgument('output format', o, "'normal' or 'json'", 'nvme-cli also has binary output; vfio-node prints normal or json.');
  }
  return { values, positionals: parsed.positionals, format: (o as OutputFormat | undefined) ?? 'normal', help: values.help === true };
}

/** The controller's PCI address: the one positional argument. */
export function addressArg(sub: string, p: Parsed): string {
  if (p.positionals.length !== 1) {
    throw new VfioError({
      code: 'ERR_INVALID_ARG',
      message: p.positionals.length === 0 ? `nvme ${sub}: missing the controller's PCI address` : `nvme ${sub}: one PCI address expected, got ${p.positionals.length} arguments (${p.positionals.join(' ')})`,
      hint: `Usage: vfio-node nvme ${sub} ADDR ... (find ADDR with 'vfio-node list --class nvme').`,
    });
  }
  const a = p.positionals[0]!;
  if (a.startsWith('/dev/')) {
    throw new VfioError({
      code: 'ERR_INVALID_ARG',
      message: `nvme ${sub}: ${a} is a kernel device node; vfio-node drives controllers bound to vfio-pci, named by PCI address`,
      hint: "Give the PCI address (e.g. 0000:00:03.0): 'vfio-node list --class nvme' shows it, 'vfio-node bind ADDR' hands it to vfio-pci.",
    });
  }
  return a;
}

/** An unsigned integer in decimal or 0x hex (nvme-cli reads numbers with strtoul base 0). */
export function parseUint(what: string, text: string, max: number): number {
  const n = parseBig(what, text, BigInt(max));
  return Number(n);
}

/** A 64-bit unsigned integer (LBAs). */
export function parseBig(what: string, text: string, max: bigint): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) throw invalidArgument(what, text, `an unsigned integer, decimal or 0x hex, at most ${max}`);
  const n = BigInt(t);
  if (n > max) throw invalidArgument(what, text, `at most ${max} (0x${max.toString(16)})`);
  return n;
}

/** An optional number option. */
export function optUint(p: Parsed, name: string, max: number): number | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? parseUint(`--${name}`, v, max) : undefined;
}

/** A number option that must be given. */
export function reqUint(sub: string, p: Parsed, name: string, short: string, max: number, hint?: string): number {
  const v = optUint(p, name, max);
  if (v === undefined) throw missingOption(sub, name, short, hint);
  return v;
}

export function missingOption(sub: string, name: string, short: string, hint?: string): VfioError {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: `nvme ${sub}: --${name} (-${short}) is required`,
    hint: hint ?? `Run 'vfio-node nvme ${sub} --help' for its options.`,
  });
}

/** --namespace-id/-n, required (a controller bound to vfio-pci has no namespace device to infer it from). */
export function nsidArg(sub: string, p: Parsed): number {
  const nsid = reqUint(sub, p, 'namespace-id', 'n', 0xffffffff, `Give the namespace with -n NSID; 'vfio-node nvme list' shows the namespaces of each controller.`);
  if (nsid === 0) throw invalidArgument('--namespace-id', 0, 'a namespace id from 1 (0 is not a namespace)');
  return nsid;
}

/** The namespace-id option as nvme-cli declares it. */
export const NSID_OPTION: OptionSpec = { 'namespace-id': { type: 'string', short: 'n' } };
