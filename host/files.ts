// PLACEHOLDER (files engineer replaces this file): host side of FilesService.
import type { Connection } from './connection.js';

export class FilesApi {
  constructor(readonly connection: Connection) {}
}
