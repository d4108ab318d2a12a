/**
 * The crypto worker pool alone: Ed25519 verify + sign pairs per second over ~600-byte
 * canonical bytes, on the main thread (node:crypto with cached KeyObjects) and on the
 * pool (`src/runtime/crypto-pool.ts`, one worker per core, 1,024 operations kept in
 * flight), alternated, medians.
 *
 *   npx tsx bench/crypto.ts [--quick] [--json]
 */
import { sign, verify } from 'node:crypto';
import { createCryptoPool } from '../src/runtime/crypto-pool.ts';
import { decodeEnvelope } from '../src/envelope/index.ts';
import { signatureBytes } from '../src/envelope/decode-envelope.ts';
import { generateDomainKeys, parsePrivateKey, parsePublicKey } from '../src/keys/index.ts';
import { makeEnvelopes, senderKeys } from './fixtures.ts';
import { isMain, median, progress, runAsScript, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

const IN_FLIGHT = 1024;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const roundMs = options.quick ? 300 : 1_000;
  const rounds = options.quick ? 3 : 7;
  const decoded = decodeEnvelope(makeEnvelopes(1).payloads[0]!);
  if (!decoded.ok) throw new Error('the sample envelope does not decode');
  const canonical = decoded.value.canonical;
  const signature = signatureBytes(decoded.value)!;
  const publicKey = parsePublicKey(senderKeys.publicKeyPem);
  const privateKey = parsePrivateKey(generateDomainKeys('shop.example', 'pw1').privateKeyPem);
  const spki = publicKey.key.export({ format: 'der', type: 'spki' });
  const pkcs8 = privateKey.key.export({ format: 'der', type: 'pkcs8' });

  const mainThread = (): number => {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < roundMs) {
      for (let i = 0; i < 50; i++) {
        if (!verify(null, canonical, publicKey.key, signature)) throw new Error('verify failed');
        sign(null, canonical, privateKey.key);
      }
      n += 50;
    }
    return (n / (performance.now() - start)) * 1000;
  };

  const pool = createCryptoPool();
  try {
    const pooled = async (): Promise<number> => {
      let n = 0;
      const start = performance.now();
      const lane = async () => {
        while (performance.now() - start < roundMs) {
          if (!(await pool.verify(canonical, signature, spki, 'ed25519'))) throw new Error('pool verify failed');
          await pool.sign(canonical, pkcs8, 'ed25519');
          n++;
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT / 2 }, lane));
      return (n / (performance.now() - start)) * 1000;
    };
    mainThread();
    await pooled(); // warm-up
    const main: number[] = [];
    const onPool: number[] = [];
    for (let r = 0; r < rounds; r++) {
      progress(options, `crypto: round ${r + 1}/${rounds}`);
      main.push(mainThread());
      onPool.push(await pooled());
    }
    const m = median(main);
    const p = median(onPool);
    const stats = pool.stats();
    const summary: SummaryRow[] = [
      { figure: 'Ed25519 verify + sign pairs, main thread', value: m, unit: 'pairs/s' },
      { figure: `Ed25519 verify + sign pairs, crypto pool (${pool.size} workers)`, value: p, unit: 'pairs/s', ratio: p / m, versus: 'main thread' },
    ];
    return {
      name: `crypto: Ed25519 verify + sign over ${canonical.byteLength} canonical bytes, main thread vs worker pool`,
      results: {
        'main thread (verify + sign pairs/s)': m,
        [`crypto pool, ${pool.size} workers (verify + sign pairs/s)`]: p,
        'pool / main thread': p / m,
        'operations per batch (mean)': stats.operations / stats.batches,
      },
      notes: [`${rounds} rounds of ~${roundMs} ms each, alternated, medians; the pool kept ${IN_FLIGHT} operations in flight; ${pool.size} workers on ${pool.size} cores`],
      summary,
    };
  } finally {
    await pool.close();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
