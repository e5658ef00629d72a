// PLACEHOLDER (runner engineer replaces this file): host side of ProcessService.
import type { Connection } from './connection.js';
import { AgentError } from './errors.js';

export class ProcessApi {
  constructor(readonly connection: Connection) {}
  async runCode(_language: string, _source: string | Uint8Array, _options: object = {}): Promise<never> {
    throw new AgentError('runCode is not implemented yet');
  }
  async exec(_argv: string[], _options: object = {}): Promise<never> {
    throw new AgentError('exec is not implemented yet');
  }
}
