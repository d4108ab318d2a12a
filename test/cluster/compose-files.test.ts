/**
 * docker-compose.yml and its configs, checked without a docker engine: what the file
 * publishes, that nats-server accepts the configs, and that the cluster example parses.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, { image: string; command: string[]; ports?: string[]; profiles?: string[]; environment?: Record<string, string> }>;
};

describe('docker-compose.yml', () => {
  it('publishes every port on loopback only, and runs the nats-server line we test on', () => {
    const version = /v(\d+\.\d+)/.exec(execFileSync('nats-server', ['--version'], { encoding: 'utf8' }))![1]!;
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
      if (service.image.startsWith('nats:')) expect(service.image).toMatch(new RegExp(`^nats:${version.replace('.', '\\.')}[.-]`));
    }
    // Monitoring is on where 8222 is mapped.
    expect(compose.services.nats!.command).toEqual(expect.arrayContaining(['-m', '8222']));
    expect(Object.keys(compose.services).filter((s) => compose.services[s]!.profiles?.includes('cluster')).sort()).toEqual(['mailroom', 'nats-1', 'nats-2', 'nats-3']);
  });

  it('gives nats-server configs it accepts', () => {
    expect(execFileSync('nats-server', ['-c', `${root}nats.conf`, ...compose.services.nats!.command.slice(2), '-t'], { encoding: 'utf8', stdio: 'pipe' })).toBe('');
    for (const node of ['nats-1', 'nats-2', 'nats-3']) {
      const args = compose.services[node]!.command.map((a) => a.replace('/etc/nats/cluster.conf', `${root}examples/cluster/nats-cluster.conf`));
      expect(args).toContain(node);
      execFileSync('nats-server', [...args, '-t'], { stdio: 'pipe' });
    }
  });

  it('configures the cluster profile\'s Mailroom with 3 replicas and every node', async () => {
    const env = { MAILROOM_NATS_URL: compose.services.mailroom!.environment!.MAILROOM_NATS_URL! };
    const config = await loadConfig(`${root}examples/cluster/mailroom.yaml`, { env });
    expect(config.nats.replicas).toBe(3);
    expect(config.nats.url).toBe('nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222');
    expect(config.domains.map((d) => d.name)).toEqual(['orders.example', 'shop.example', 'buffer.example']);
  });
});
