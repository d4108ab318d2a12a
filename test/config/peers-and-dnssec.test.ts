import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { inboxUrlFor, parseConfig } from '../../src/config/index.ts';

describe('directory entries with a canonical form', () => {
  it('splits into inbox URLs (directory) and the stated forms (peers), names lower-cased', () => {
    const config = parseConfig({
      directory: {
        'partner.example': 'https://partner.example/inbox',
        'Ref.Example': { inbox: 'https://ref.example/pw/inbox', canonical: 'python' },
        'jcs.example': { canonical: 'jcs' },
        'plain.example': {},
      },
    });
    expect(config.directory).toEqual({ 'partner.example': 'https://partner.example/inbox', 'ref.example': 'https://ref.example/pw/inbox' });
    expect(config.peers).toEqual({ 'ref.example': { canonical: 'python' }, 'jcs.example': { canonical: 'jcs' } });
    expect(inboxUrlFor(config, 'jcs.example')).toEqual({ url: 'https://pw.jcs.example/inbox', source: 'convention' });
  });

  it('refuses an unknown form or key', () => {
    expect(() => parseConfig({ directory: { 'ref.example': { canonical: 'xml' } } })).toThrow(ConfigError);
    expect(() => parseConfig({ directory: { 'ref.example': { url: 'https://ref.example/inbox' } } })).toThrow(ConfigError);
  });
});

describe('keys.dns.dnssec', () => {
  it('is on by default; dnssec: false (or the older requireDnssec: false) opts out', () => {
    expect(parseConfig({}).keys.dns.requireDnssec).toBe(true);
    expect(parseConfig({ keys: { dns: { enabled: true } } }).keys.dns.requireDnssec).toBe(true);
    expect(parseConfig({ keys: { dns: { dnssec: false } } }).keys.dns.requireDnssec).toBe(false);
    expect(parseConfig({ keys: { dns: { requireDnssec: false } } }).keys.dns.requireDnssec).toBe(false);
    expect(() => parseConfig({ keys: { dns: { dnssec: false, requireDnssec: true } } })).toThrow(ConfigError);
  });
});
