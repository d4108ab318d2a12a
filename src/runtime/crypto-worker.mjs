/**
 * The worker thread of `crypto-pool.ts`: Ed25519 / RSA (PKCS#1 v1.5, SHA-256) sign and
 * verify, a batch per message. Plain JavaScript on purpose, so it loads the same under
 * node, tsx and vitest without a TypeScript loader.
 *
 * In:  { batch, reset?, keys?: [{ id, kind: 0 public | 1 private, alg: 0 ed25519 | 1 rsa, der }],
 *        ops: Int32Array (6 per operation: op 0 verify | 1 sign, keyId, dataStart, dataLength,
 *        signatureStart, signatureLength), bytes: Uint8Array (the data and signatures) }
 * Out: { batch, status: Uint8Array (0 false, 1 true / signed, 2 error), sigEnds: Uint32Array,
 *        sigs: Uint8Array (the signatures made, end to end), errors?: { [index]: message } }
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** Parsed keys by the id the pool gave them: `{ key, hash, ed25519 }`, or `{ error }`. */
const keys = new Map();

function install(def) {
  try {
    const der = Buffer.from(def.der.buffer, def.der.byteOffset, def.der.byteLength);
    const key = def.kind === 0 ? createPublicKey({ key: der, format: 'der', type: 'spki' }) : createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const algorithm = key.asymmetricKeyType === 'ed25519' ? 0 : key.asymmetricKeyType === 'rsa' ? 1 : -1;
    if (algorithm !== def.alg) throw new Error(`the key is ${String(key.asymmetricKeyType)}, not ${def.alg === 0 ? 'ed25519' : 'rsa'}`);
    keys.set(def.id, { key, hash: algorithm === 0 ? null : 'sha256', ed25519: algorithm === 0 });
  } catch (error) {
    keys.set(def.id, { error: `unusable ${def.kind === 0 ? 'public' : 'private'} key: ${error instanceof Error ? error.message : String(error)}` });
  }
}

parentPort.on('message', (msg) => {
  if (msg.reset) keys.clear();
  if (msg.keys) for (const def of msg.keys) install(def);
  const { ops, bytes } = msg;
  const n = ops.length / 6;
  const status = new Uint8Array(n);
  const sigEnds = new Uint32Array(n);
  const made = [];
  let total = 0;
  let errors;
  for (let i = 0; i < n; i++) {
    const o = i * 6;
    const entry = keys.get(ops[o + 1]);
    const data = bytes.subarray(ops[o + 2], ops[o + 2] + ops[o + 3]);
    if (entry === undefined || entry.error !== undefined) {
      status[i] = 2;
      (errors ??= {})[i] = entry ? entry.error : 'unknown key id';
    } else if (ops[o] === 0) {
      const signature = bytes.subarray(ops[o + 4], ops[o + 4] + ops[o + 5]);
      let valid = false;
      if (!entry.ed25519 || signature.length === 64) {
        try {
          valid = verify(entry.hash, data, entry.key, signature);
        } catch {
          valid = false;
        }
      }
      status[i] = valid ? 1 : 0;
    } else {
      try {
        const signature = sign(entry.hash, data, entry.key);
        made.push(signature);
        total += signature.length;
        status[i] = 1;
      } catch (error) {
        status[i] = 2;
        (errors ??= {})[i] = `sign failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    sigEnds[i] = total;
  }
  // A fresh buffer (not Node's shared pool) so it can be transferred.
  const sigs = new Uint8Array(total);
  let at = 0;
  for (const signature of made) {
    sigs.set(signature, at);
    at += signature.length;
  }
  parentPort.postMessage({ batch: msg.batch, status, sigEnds, sigs, errors }, [status.buffer, sigEnds.buffer, sigs.buffer]);
});
