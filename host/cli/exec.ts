// PLACEHOLDER: replaced by the engineer who owns `runbox exec`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox exec: not implemented yet\n');
  return 125;
}
