// Checks of ContextService requests, and their limits after defaults and clamping. Each refusal
// names the field and what is allowed; env rules are those of runs and shells (usercode/).
import path from 'node:path';
import type { CreateContextRequest, ExecuteRequest } from '../../proto/gen/runbox/v1/context_pb.js';
import type { AgentContext } from '../core/context.js';
import type { StageLimits } from '../limits/cgroups.js';
import { effectiveLimit, treeLimits } from '../limits/effective.js';
import { rpcError } from '../server/errors.js';
import { checkEnv, checkExecSize } from '../usercode/argv.js';
import { CONTEXT_LANGUAGES, isContextLanguage, type ContextLanguage } from './driver.js';
import type { ExecutionLimits } from './execution.js';

/** Bytes of results kept per cell when a request gives no limit, and the most it may ask for. */
export const DEFAULT_RESULT_BYTES = 16 << 20;
export const MAX_RESULT_BYTES = 64 << 20;

export interface CheckedCreate {
  language: ContextLanguage;
  interpreter: string;
  cwd: string;
  env: Record<string, string>;
  limits: StageLimits;
}

export function checkCreate(ctx: AgentContext, request: CreateContextRequest): CheckedCreate {
  const spec = ctx.languages.spec(request.language);
  if (!spec) {
    const known = ctx.languages
      .list()
      .map((l) => l.name)
      .join(', ');
    throw rpcError(
      'LANGUAGE_UNKNOWN',
      `language ${JSON.stringify(request.language)}: this agent has no such toolchain (it has: ${known})`,
      {
        field: 'language',
        language: request.language,
      },
    );
  }
  if (!isContextLanguage(spec.name)) {
    throw rpcError(
      'CONTEXT_LANGUAGE_UNSUPPORTED',
      `language ${spec.name}: code contexts exist for ${CONTEXT_LANGUAGES.join(' and ')}; run ${spec.name} with RunCode`,
      { field: 'language', language: spec.name },
    );
  }
  checkEnv('env', request.env);
  checkExecSize('env', [], request.env, ctx.config.maxSourceBytes);
  if (request.cwd !== '' && (!path.isAbsolute(request.cwd) || request.cwd.includes('\0'))) {
    throw rpcError('CWD_INVALID', `cwd ${JSON.stringify(request.cwd)}: must be an absolute path`, { field: 'cwd' });
  }
  const interpreter = spec.run('-', []).argv[0]!;
  return {
    language: spec.name,
    interpreter,
    cwd: request.cwd,
    env: request.env,
    limits: treeLimits(ctx.config, ctx.limits, request.limits),
  };
}

export interface CheckedExecute {
  code: string;
  limits: ExecutionLimits;
}

export function checkExecute(ctx: AgentContext, request: ExecuteRequest): CheckedExecute {
  const { defaults: d, maximums: m, maxSourceBytes } = ctx.config;
  if (request.code.length > maxSourceBytes) {
    throw rpcError('SOURCE_TOO_LARGE', `code is ${request.code.length} bytes, over --max-source-bytes ${maxSourceBytes}`, {
      field: 'code',
      flag: '--max-source-bytes',
      limit: String(maxSourceBytes),
    });
  }
  let code: string;
  try {
    code = new TextDecoder('utf-8', { fatal: true }).decode(request.code);
  } catch {
    throw rpcError('FIELD_INVALID', 'code: must be UTF-8 text', { field: 'code' });
  }
  return {
    code,
    limits: {
      timeoutMs: effectiveLimit(request.timeoutMs, d.timeoutMs, m.timeoutMs),
      outputLimitBytes: effectiveLimit(request.outputLimitBytes, d.outputLimitBytes, m.outputLimitBytes),
      resultLimitBytes: effectiveLimit(request.resultLimitBytes, DEFAULT_RESULT_BYTES, MAX_RESULT_BYTES),
    },
  };
}
