import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig, parseConfigYaml } from '../../src/config/index.ts';

const README = new URL('../../src/config/README.md', import.meta.url);

describe('the commented example in src/config/README.md', () => {
  it('is a valid mailroom.yaml whose unmarked values are the defaults', async () => {
    const text = await readFile(README, 'utf8');
    const block = /## `mailroom\.example\.yaml`[\s\S]*?```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();
    const config = parseConfig(parseConfigYaml(block ?? ''), { baseDir: '/srv/mailroom' });
    const defaults = parseConfig({}, { baseDir: '/srv/mailroom' });
    const { domains, keys, directory, peers, manifests, topics, workflows, delivery, ...rest } = config;
    const { domains: _d, keys: defaultKeys, directory: _dir, peers: _p, manifests: _m, topics: _t, workflows: _w, delivery: defaultDelivery, ...defaultRest } = defaults;
    expect(rest).toEqual(defaultRest);
    const { subjects, senderRate, ...deliveryRest } = delivery;
    const { subjects: _s, ...defaultDeliveryRest } = defaultDelivery;
    expect(deliveryRest).toEqual(defaultDeliveryRest);
    expect(subjects).toEqual({ 'Pay@Shop': { maxInFlight: 4 } });
    expect(senderRate).toEqual({ rate: 50, burst: 100 });
    expect(topics).toEqual({ 'order.placed': { subscribers: ['invoicing.example', 'shipping.example'] } });
    expect(workflows).toEqual(['/srv/mailroom/order-saga.machine.ts']);
    expect(keys.dns).toEqual(defaultKeys.dns);
    expect(domains.map((d) => d.name)).toEqual(['orders.example']);
    expect(keys.trusted.map((k) => k.domain)).toEqual(['shop.example']);
    expect(Object.keys(directory)).toEqual(['partner.example']);
    expect(peers).toEqual({ 'ref.example': { canonical: 'python' } });
    expect(manifests).toEqual({ 'shop.example': { feedback: 'buffer.example' } });
  });
});
