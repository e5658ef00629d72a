// PLACEHOLDER: replaced by the engineer who owns `runbox shell`.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('runbox shell: not implemented yet\n');
  return 125;
}
