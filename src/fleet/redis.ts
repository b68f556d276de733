/** Redis connections for the fleet (ioredis, which BullMQ takes). */
import { Redis } from 'ioredis';

/**
 * Workers block on Redis and must wait through an outage (`maxRetriesPerRequest: null`, BullMQ's requirement);
 * producers (the relay, status) fail fast instead, so an outbox claim never holds its rows while Redis is away.
 */
export function redisConnection(url: string, kind: 'worker' | 'producer'): Redis {
  return new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: kind === 'worker' ? null : 1,
    enableOfflineQueue: kind === 'worker',
    retryStrategy: (times) => Math.min(100 * times, 2000),
    connectTimeout: 5000,
  });
}

/** Connects, or throws a clear error (the CLI's fleet commands and tests use it to tell "no Redis here"). */
export async function connectRedis(url: string, kind: 'worker' | 'producer'): Promise<Redis> {
  const redis = redisConnection(url, kind);
  redis.on('error', () => undefined); // reconnects on its own; failures surface on the calls
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

/** True when Redis answers PING within `timeoutMs` (tests skip with a message otherwise). */
export async function redisReachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
