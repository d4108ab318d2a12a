import { describe, expect, it } from 'vitest';
import { MailroomConfig, manifestOf, publicSubjectsOf, type MailroomConfigInput } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { parseConfig } from '../../src/config/index.ts';

const orders = { name: 'orders.example', selector: 'pw1', privateKey: '/k/orders.pem' };
const domainOf = (input: MailroomConfigInput['domains']) => MailroomConfig.parse({ domains: input }).domains[0]!;

describe('manifests in the config', () => {
  it('defaults: the reference schema tag, About.Domain the domain, About.Feedback its feedback buffer', () => {
    expect(manifestOf(domainOf([{ ...orders, feedback: 'buffer.example' }]))).toEqual({
      '🤝': 'pollyweb.org/MANIFEST:1.0',
      About: { Domain: 'orders.example', Feedback: 'buffer.example' },
    });
    expect(manifestOf(domainOf([orders]))).toEqual({ '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: 'orders.example' } });
  });

  it('keeps what a configured manifest says, the reference’s other fields included', () => {
    const domain = domainOf([{ ...orders, manifest: { About: { Title: 'Orders', Feedback: 'BUFFER.example' }, Trusts: [{ Role: 'VAULT' }] } }]);
    expect(manifestOf(domain)).toEqual({
      '🤝': 'pollyweb.org/MANIFEST:1.0',
      About: { Domain: 'orders.example', Title: 'Orders', Feedback: 'buffer.example' },
      Trusts: [{ Role: 'VAULT' }],
    });
  });

  it('refuses a manifest naming another domain, or a buffer other than feedback', () => {
    expect(() => parseConfig({ domains: [{ ...orders, manifest: { About: { Domain: 'other.example' } } }] })).toThrow(ConfigError);
    expect(() => parseConfig({ domains: [{ ...orders, feedback: 'a.example', manifest: { About: { Feedback: 'b.example' } } }] })).toThrow(/differ/);
  });

  it('publicSubjects: the manifest request unless configured; [] keeps the manifest private; other subjects may be public, never Feedback@Buffer', () => {
    expect(publicSubjectsOf(domainOf([orders]))).toEqual(['Manifest@Domain']);
    expect(publicSubjectsOf(domainOf([{ ...orders, publicSubjects: [] }]))).toEqual([]);
    expect(publicSubjectsOf(domainOf([{ ...orders, publicSubjects: ['Manifest@Domain', 'Hello@Host'] }]))).toEqual(['Manifest@Domain', 'Hello@Host']);
    expect(() => parseConfig({ domains: [{ ...orders, publicSubjects: ['Feedback@Buffer'] }] })).toThrow(/Feedback@Buffer cannot be a public subject/);
  });

  it('manifestGraph and publicLimit: a domain name; positive limits', () => {
    expect(parseConfig({ manifestGraph: 'Graph.example', publicLimit: { rate: 0.5, burst: 3 } })).toMatchObject({ manifestGraph: 'graph.example', publicLimit: { rate: 0.5, burst: 3 } });
    expect(() => parseConfig({ manifestGraph: 'not a domain' })).toThrow(ConfigError);
    expect(() => parseConfig({ publicLimit: { rate: 0 } })).toThrow(/must be > 0/);
    expect(() => parseConfig({ publicLimit: { perClient: 1 } })).toThrow(ConfigError);
  });
});
