import { writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliUsageError } from './io.ts';
import { printJson } from './output.ts';

interface GenerateOptions {
  domain: string;
  selector: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/** `mailroom keys generate`: a new Ed25519 key pair for a domain and the DNS record to publish. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage domain signing keys');
  keys
    .command('generate')
    .description('generate an Ed25519 key pair for a domain; writes the PKCS#8 private key and prints the DNS TXT record to publish')
    .requiredOption('--domain <domain>', 'the domain the key signs for, e.g. orders.example')
    .option('--selector <selector>', 'the key selector published in DNS', 'pw1')
    .option('--out <dir>', 'folder for the key files', 'keys')
    .option('-f, --force', 'overwrite existing key files')
    .option('--json', 'print the file paths and the DNS record as JSON')
    .addHelpText('after', '\nExample:\n  mailroom keys generate --domain orders.example --selector pw1 --out keys\n')
    .action(async (options: GenerateOptions) => {
      const { generateDomainKeys } = await import('../keys/generate-domain-keys.ts');
      const generated = generateDomainKeys(options.domain, options.selector);
      const dir = resolve(options.out);
      const base = join(dir, `${options.domain}.${options.selector}`);
      const privatePath = `${base}.private.pem`;
      const publicPath = `${base}.public.pem`;
      if (!options.force && (existsSync(privatePath) || existsSync(publicPath))) {
        throw new CliUsageError(`a key for ${options.domain} selector ${options.selector} already exists in ${dir}`, 'use --force to replace it, or pick another --selector');
      }
      await mkdir(dir, { recursive: true });
      await writeFile(privatePath, generated.privateKeyPem, { mode: 0o600 });
      await writeFile(publicPath, generated.publicKeyPem, { mode: 0o644 });
      if (options.json) return printJson({ domain: options.domain, selector: options.selector, privateKey: privatePath, publicKey: publicPath, dns: { name: `${generated.dnsName}.`, type: 'TXT', value: generated.dnsTxt } });
      process.stdout.write(
        [
          `private key: ${privatePath}`,
          `public key:  ${publicPath}`,
          '',
          'Publish this DNS TXT record:',
          `${generated.dnsName}. IN TXT "${generated.dnsTxt}"`,
          '',
        ].join('\n'),
      );
    });
}
