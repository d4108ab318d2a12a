import { ConfigError } from '../../src/errors.ts';

/** Runs `run` and returns the ConfigError it throws; fails when it throws nothing or something else. */
export function catchConfigError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** Awaits `promise` and returns the ConfigError it rejects with. */
export async function rejectedConfigError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the promise resolved');
}

/** A real Ed25519 public key as a DKIM TXT value. */
export const SHOP_KEY = 'v=DKIM1; k=ed25519; p=IuiJdECU3qzBAvoO1rXzkMOABEcoYiFZOzRdpbTapJ4=';

/** The example of the brief, every field set. */
export const FULL_EXAMPLE_YAML = `
nats:
  url: nats://127.0.0.1:4222
  embedded: { storeDir: .mailroom/nats, port: 0, configFile: nats.conf }
  prefix: mailroom
http:
  host: 127.0.0.1
  port: 8080
  publicUrl: http://127.0.0.1:8080
  maxBodyBytes: 262144
  tls: { cert: ./tls/cert.pem, key: ./tls/key.pem }
domains:
  - name: orders.example
    selector: pw1
    privateKey: ./keys/orders.example.pw1.pem
    handlers: ./examples/orders/handlers.ts
    feedback: buffer.example
keys:
  trusted:
    - { domain: shop.example, selector: pw1, key: "${SHOP_KEY}" }
    - { domain: shop.example, selector: pw2, key: { file: keys/shop.pw2.pem } }
  dns: { enabled: false, servers: [1.1.1.1], requireDnssec: true, timeout: 2s, cacheTtl: 5m }
directory:
  partner.example: https://partner.example/inbox
manifests:
  shop.example: { feedback: buffer.example }
validation:
  maxSkew: 5m
  maxAge: 15m
  replayWindow: 24h
  strict: false
delivery:
  maxAttempts: 5
  ackWait: 30s
  retry: { initialDelay: 1s, maxDelay: 1m, multiplier: 2 }
  concurrency: 64
outbox:
  maxAttempts: 8
  retry: { initialDelay: 1s, maxDelay: 5m, multiplier: 2 }
  allowPrivateNetworks: false
`;
