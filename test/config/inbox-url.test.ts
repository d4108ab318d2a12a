import { describe, expect, it } from 'vitest';
import { inboxUrlFor, parseConfig } from '../../src/config/index.ts';

const config = parseConfig({ directory: { 'partner.example': 'http://10.0.0.5:8080/inbox' } });

describe('inboxUrlFor', () => {
  it('takes a directory entry as it is', () => {
    expect(inboxUrlFor(config, 'partner.example')).toEqual({ url: 'http://10.0.0.5:8080/inbox', source: 'directory' });
  });

  it('matches directory names case-insensitively', () => {
    expect(inboxUrlFor(config, 'Partner.EXAMPLE')).toEqual({ url: 'http://10.0.0.5:8080/inbox', source: 'directory' });
  });

  it('derives https://pw.{domain}/inbox for anyone else', () => {
    expect(inboxUrlFor(config, 'Shop.Example')).toEqual({ url: 'https://pw.shop.example/inbox', source: 'convention' });
    expect(inboxUrlFor(config, 'sub.partner.example')).toEqual({ url: 'https://pw.sub.partner.example/inbox', source: 'convention' });
  });

  it.each(['Anonymous', '3fa85f64-5717-4562-b3fc-2c963f66afa6', 'evil.example/x?', 'evil.example:444', '127.0.0.1', 'toString', '__proto__'])(
    'has no URL for %s, which is not a domain name',
    (name) => {
      expect(inboxUrlFor(config, name)).toBeUndefined();
    },
  );
});
