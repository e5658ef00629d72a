// PLACEHOLDER: replaced by the engineer who owns `runbox vm`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox vm: not implemented yet\n');
  return 125;
}
