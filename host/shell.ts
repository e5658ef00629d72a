// PLACEHOLDER (shell engineer replaces this file): host side of ShellService.
import type { Connection } from './connection.js';
import { AgentError } from './errors.js';

export class ShellApi {
  constructor(readonly connection: Connection) {}
  async open(_options: object = {}): Promise<never> {
    throw new AgentError('shell is not implemented yet');
  }
  async attach(_sessionId: string, _options: object = {}): Promise<never> {
    throw new AgentError('shell attach is not implemented yet');
  }
}
