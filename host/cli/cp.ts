// PLACEHOLDER: replaced by the engineer who owns `runbox cp`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox cp: not implemented yet\n');
  return 125;
}
