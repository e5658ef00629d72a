// PLACEHOLDER: replaced by the engineer who owns `runbox image`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox image: not implemented yet\n');
  return 125;
}
