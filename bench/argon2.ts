/**
 * The ceiling for password sign-ins on this machine: how many argon2id verifications per second
 * @node-rs/argon2 sustains with Gatehouse's parameters, at a given concurrency. The calls run on
 * libuv's thread pool (UV_THREADPOOL_SIZE threads, 4 by default), as they do in the server.
 */
import { hash, verify } from '@node-rs/argon2';
import { ARGON2_OPTIONS } from '../src/directory/passwords.ts';
import { type RowResult, percentile, runLoop, summarize } from './lib.ts';

/** libuv's thread pool size as libuv reads it (1-1024, default 4). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}

export async function argon2Capacity(options: { concurrency: number; durationMs: number }): Promise<RowResult> {
  const password = 'correct horse battery staple';
  const stored = await hash(password, ARGON2_OPTIONS);
  const task = async () => {
    if (!(await verify(stored, password))) throw new Error('verify returned false');
  };
  await runLoop({ concurrency: options.concurrency, durationMs: 500, task });
  // This process does nothing else meanwhile, so its CPU time is the verifications'.
  const cpu = async () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  return summarize(await runLoop({ concurrency: options.concurrency, durationMs: options.durationMs, task, cpu, ownCpu: true }));
}

/**
 * What an RS256 signature (an ID token; jose signs with WebCrypto, which also runs on libuv's thread
 * pool) waits while `inFlight` argon2 verifications are running: the median of a few rounds.
 */
export async function signatureLatency(inFlight: number[], rounds = 9): Promise<Array<{ inFlight: number; medianMs: number }>> {
  const { subtle } = globalThis.crypto;
  const { privateKey } = await subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  );
  const data = new Uint8Array(600);
  const sign = () => subtle.sign('RSASSA-PKCS1-v1_5', privateKey, data);
  const password = 'correct horse battery staple';
  const stored = await hash(password, ARGON2_OPTIONS);
  for (let i = 0; i < 10; i++) await sign();
  const results = [];
  for (const n of inFlight) {
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const verifies = Array.from({ length: n }, () => verify(stored, password));
      await new Promise((resolve) => setTimeout(resolve, 2));
      const started = performance.now();
      await sign();
      times.push(performance.now() - started);
      await Promise.all(verifies);
    }
    results.push({ inFlight: n, medianMs: percentile(times.sort((a, b) => a - b), 50) });
  }
  return results;
}
