/**
 * Envelope verification cost: bare `crypto.verify` over canonical bytes versus the full
 * inbound path (`decodeEnvelope(text)` + `verifyDecoded`) on a ~600-byte envelope, one
 * core, warm-up then several timed rounds, medians. Goal: full ≥ 0.70 × bare.
 *
 *   npx tsx bench/envelope.ts [--quick] [--json]
 */
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { decodeEnvelope, encodeEnvelope, signEnvelope, verifyDecoded } from '../src/envelope/index.ts';
import type { PrivateKey, PublicKey } from '../src/keys/public-key.ts';
import { isMain, median, progress, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

const GOAL = 0.7;

function sampleText(privateKey: PrivateKey): string {
  const envelope = signEnvelope(
    {
      From: 'sender.example.com',
      To: 'receiver.example.org',
      Subject: 'PlaceOrder@Shop',
      Selector: 'pw1',
      Correlation: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      Timestamp: '2025-06-01T12:00:00.000Z',
      Body: {
        order: { id: 'A-1029', items: [{ sku: 'X-1', qty: 2, price: 19.99 }, { sku: 'Y-22', qty: 1, price: 5 }], note: 'leave at the door' },
        customer: { name: 'Zoë Example', email: 'zoe@example.com', tags: ['gold', 'eu'] },
      },
    },
    privateKey,
  );
  return encodeEnvelope(envelope);
}

/** Ops per second of `op`, timed over about `ms` milliseconds. */
function opsPerSecond(op: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 100; i++) op();
    n += 100;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (n / elapsed) * 1000;
}

export async function run(options: Pick<BenchOptions, 'quick'> & Partial<BenchOptions>): Promise<BenchResult> {
  const pair = generateKeyPairSync('ed25519');
  const privateKey: PrivateKey = { algorithm: 'ed25519', key: pair.privateKey };
  const publicKey: PublicKey = { algorithm: 'ed25519', key: pair.publicKey };
  const text = sampleText(privateKey);
  const decoded = decodeEnvelope(text);
  if (!decoded.ok) throw new Error(`benchmark envelope does not decode: ${decoded.error.detail}`);
  const canonical = decoded.value.canonical;
  const signature = Buffer.from(decoded.value.envelope.Signature, 'base64');
  const keyObject: KeyObject = publicKey.key;

  const bare = (): void => {
    if (!verify(null, canonical, keyObject, signature)) throw new Error('bare verify failed');
  };
  const full = (): void => {
    const d = decodeEnvelope(text);
    if (!d.ok || !verifyDecoded(d.value, publicKey).ok) throw new Error('full path failed');
  };
  const bytes = new TextEncoder().encode(text); // as it arrives from the transport
  const fullFromBytes = (): void => {
    const d = decodeEnvelope(bytes);
    if (!d.ok || !verifyDecoded(d.value, publicKey).ok) throw new Error('full path (bytes) failed');
  };

  const rounds = options.quick ? 5 : 11;
  const roundMs = options.quick ? 150 : 400;
  const display = { quick: options.quick, json: options.json ?? false };
  opsPerSecond(bare, roundMs); // warm-up
  opsPerSecond(full, roundMs);
  opsPerSecond(fullFromBytes, roundMs);
  const bareRuns: number[] = [];
  const fullRuns: number[] = [];
  const bytesRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    progress(display, `envelope: round ${r + 1}/${rounds}`);
    // Alternate the two so drift (thermal, other load) hits both alike.
    bareRuns.push(opsPerSecond(bare, roundMs));
    fullRuns.push(opsPerSecond(full, roundMs));
    bytesRuns.push(opsPerSecond(fullFromBytes, roundMs));
  }
  const bareOps = median(bareRuns);
  const fullOps = median(fullRuns);
  return {
    name: 'envelope',
    results: {
      'bare verify (ops/s)': bareOps,
      'decode + verify (ops/s)': fullOps,
      'decode + verify from bytes (ops/s)': median(bytesRuns),
      'full / bare (%)': (100 * fullOps) / bareOps,
      'envelope bytes': bytes.byteLength,
    },
    ratios: { 'full / bare': { value: fullOps / bareOps, goal: GOAL } },
    notes: [`medians of ${rounds} rounds of ~${roundMs} ms each, one core, Ed25519`],
  };
}

if (isMain(import.meta.url)) await runAsScript(run);
