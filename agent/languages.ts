// PLACEHOLDER (runner engineer replaces this file): language detection and specs.
import type { AgentConfig } from './config.js';

export interface LanguageInfo {
  name: string;
  aliases: string[];
  version: string;
  compiled: boolean;
}

export interface LanguageRegistry {
  list(): LanguageInfo[];
  /** Canonical language for a name or alias (case-insensitive), or undefined. */
  resolve(nameOrAlias: string): LanguageInfo | undefined;
}

export async function detectLanguages(_config: AgentConfig): Promise<LanguageRegistry> {
  return { list: () => [], resolve: () => undefined };
}
