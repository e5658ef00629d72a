// PLACEHOLDER: replaced by the engineer who owns `runbox web`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox web: not implemented yet\n');
  return 125;
}
