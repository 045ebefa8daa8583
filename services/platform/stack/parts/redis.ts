import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlywheelError } from '../../errors.ts';
import type { PartContext, StackPart } from '../part.ts';
import { redisAnswers } from '../probes.ts';
import { spawnDetached } from '../processes.ts';

function redisServerPath(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path : undefined;
}

/**
 * Redis from the OS packages, in-memory only (no RDB/AOF): the local stack is disposable. With the
 * `redisAppendOnly` stack option it keeps an fsynced append-only file, so a stop and start loses nothing.
 */
export function redisPart(ctx: PartContext): StackPart {
  const { stack } = ctx.config;
  return {
    name: 'redis',
    ports: [stack.redisPort],
    portSetting: 'FLYWHEEL_REDIS_PORT',
    answers: () => redisAnswers(stack.redisPort),
    ready: () => redisAnswers(stack.redisPort),

    async provision() {
      if (redisServerPath()) return;
      const root = process.getuid?.() === 0;
      const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
      if (!root || !hasApt) {
        throw new FlywheelError(
          'FW_STACK_REDIS_MISSING',
          'redis-server is not installed. Fix: sudo apt-get install -y redis-server (Debian/Ubuntu), ' +
            'or point FLYWHEEL_REDIS_URL at a running Redis 7+.',
        );
      }
      ctx.logger.info('installing redis-server from the OS packages');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let install = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { encoding: 'utf8', env });
      if (install.status !== 0) {
        spawnSync('apt-get', ['update', '-qq'], { encoding: 'utf8', env });
        install = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { encoding: 'utf8', env });
      }
      if (install.status !== 0 || !redisServerPath()) {
        throw new FlywheelError(
          'FW_STACK_REDIS_MISSING',
          `apt-get install redis-server failed:\n${install.stderr.slice(-1_500)}`,
        );
      }
    },

    async start() {
      const bin = redisServerPath();
      if (!bin) throw new FlywheelError('FW_STACK_REDIS_MISSING', 'redis-server vanished after provisioning');
      const dataDir = join(ctx.runDir, 'redis');
      if (ctx.options.redisAppendOnly) mkdirSync(dataDir, { recursive: true });
      const persistence = ctx.options.redisAppendOnly
        ? ['--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always']
        : ['--appendonly', 'no'];
      const args = [
        '--bind',
        '127.0.0.1',
        '--port',
        String(stack.redisPort),
        '--save',
        '',
        ...persistence,
        '--protected-mode',
        'yes',
      ];
      return spawnDetached(bin, args, { logFile: join(ctx.runDir, 'logs', 'redis.log') });
    },
  };
}
