/** The runtime's resource scope (a stack of finalizers since issue 14 dropped Effect): the contract startMailroom relies on. */
import { describe, expect, it } from 'vitest';
import { ResourceScope } from '../../src/runtime/resource-scope.ts';

describe('ResourceScope', () => {
  it('releases in reverse order of acquisition, every one even when one fails, and closes once', async () => {
    const scope = new ResourceScope();
    const released: string[] = [];
    for (const name of ['server', 'connection', 'loop']) {
      expect(await scope.acquire(async () => name, (resource) => {
        released.push(resource);
        if (resource === 'connection') throw new Error('release failed');
      })).toBe(name);
    }
    await Promise.all([scope.close(), scope.close()]);
    await scope.close();
    expect(released).toEqual(['loop', 'connection', 'server']);
  });

  it('a failed acquisition registers nothing and rejects with its own error', async () => {
    const scope = new ResourceScope();
    const released: string[] = [];
    await scope.acquire(async () => 'first', (r) => void released.push(r));
    const failure = new Error('cannot connect');
    await expect(scope.acquire(() => Promise.reject(failure), () => void released.push('never'))).rejects.toBe(failure);
    await scope.close();
    expect(released).toEqual(['first']);
  });

  it('a resource acquired after close() began is released at once', async () => {
    const scope = new ResourceScope();
    const released: string[] = [];
    let finish!: (value: string) => void;
    const late = scope.acquire(() => new Promise<string>((resolve) => (finish = resolve)), (r) => void released.push(r));
    await scope.close();
    finish('late');
    expect(await late).toBe('late');
    expect(released).toEqual(['late']);
  });
});
