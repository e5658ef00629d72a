// PLACEHOLDER: replaced by the engineer who owns `runbox run`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox run: not implemented yet\n');
  return 125;
}
