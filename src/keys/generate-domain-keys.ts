import { generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '../errors.ts';
import { dkimRecordName, isDnsName } from './dkim-record-name.ts';
import { rawEd25519Base64 } from './public-key.ts';

/** A new Ed25519 key pair for a domain, with the DNS record that publishes it. */
export interface GeneratedDomainKeys {
  /** PKCS#8 PEM: keep it secret; `parsePrivateKey` reads it. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** Base64 of the raw 32-byte public key (the `p=` of the record). */
  publicKeyRaw: string;
  /** Where to publish the record: `{selector}._domainkey.pw.{domain}`. */
  dnsName: string;
  /** The TXT value to publish: `v=DKIM1; k=ed25519; p=...`. */
  dnsTxt: string;
}

/**
 * Generates an Ed25519 key pair for `domain` and the DNS TXT record that publishes it
 * under `selector`.
 *
 * @throws ConfigError when the domain and selector do not form a valid DNS name.
 * @example
 * ```ts
 * const keys = generateDomainKeys('sender.example.com', 'pw1');
 * writeFileSync('pw1.key', keys.privateKeyPem, { mode: 0o600 });
 * console.log(`${keys.dnsName}. IN TXT "${keys.dnsTxt}"`);
 * ```
 */
export function generateDomainKeys(domain: string, selector: string): GeneratedDomainKeys {
  const dnsName = dkimRecordName(domain, selector);
  if (selector === '' || !isDnsName(dnsName)) {
    throw new ConfigError(`"${dnsName}" is not a valid DNS name: check the domain and the selector`, [
      { path: 'selector', message: 'domain and selector must form a DNS name (letters, digits, "-", "_")' },
    ]);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyRaw = rawEd25519Base64(publicKey);
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKeyRaw,
    dnsName,
    dnsTxt: `v=DKIM1; k=ed25519; p=${publicKeyRaw}`,
  };
}
