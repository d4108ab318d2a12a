import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { isDnsName } from '../../src/keys/dkim-record-name.ts';
import { nameserversOf, parseDnsServer, resolveDnsServers } from '../../src/keys/dns-servers.ts';

describe('DNS server addresses', () => {
  it('parses host, host:port and IPv6 forms', () => {
    expect(parseDnsServer('10.0.0.1')).toEqual({ host: '10.0.0.1', port: 53 });
    expect(parseDnsServer('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(parseDnsServer('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseDnsServer('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
  });

  it('refuses names, bad ports and junk', () => {
    for (const text of ['dns.example', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:70000', '[::1]:x', '']) {
      expect(() => parseDnsServer(text), text).toThrow(ConfigError);
    }
  });

  it('reads the nameservers of resolv.conf in order, skipping other lines', () => {
    const conf = '# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver ::1\nnameserver bogus\noptions ndots:2\n';
    expect(nameserversOf(conf)).toEqual([
      { host: '10.0.0.2', port: 53 },
      { host: '::1', port: 53 },
    ]);
  });

  it('falls back to resolv.conf, then to 127.0.0.1:53', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-resolv-'));
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
    writeFileSync(join(dir, 'empty.conf'), '# nothing\n');
    expect(resolveDnsServers(undefined, join(dir, 'resolv.conf'))).toEqual([{ host: '192.0.2.53', port: 53 }]);
    expect(resolveDnsServers(undefined, join(dir, 'empty.conf'))).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(resolveDnsServers(undefined, join(dir, 'missing.conf'))).toEqual([{ host: '127.0.0.1', port: 53 }]);
  });
});

describe('isDnsName', () => {
  it('accepts DKIM names and refuses what DNS cannot carry', () => {
    expect(isDnsName('pw1._domainkey.pw.sender.example.com')).toBe(true);
    expect(isDnsName('3fa85f64-5717-4562-b3fc-2c963f66afa6')).toBe(true);
    for (const name of ['', 'a..b', 'a.b.', '-a.b', 'a b.c', 'bücher.example', `${'a'.repeat(64)}.example`, `${'a.'.repeat(127)}a`]) {
      expect(isDnsName(name), name).toBe(false);
    }
  });
});
