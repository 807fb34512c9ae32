import { describe, expect, it } from 'vitest';
import { folderKey, SessionBudget, TargetLocks, targetKey } from './target-locks.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TargetLocks', () => {
  it('runs the holders of one key one after the other, in the order they asked', async () => {
    const locks = new TargetLocks();
    const log: string[] = [];
    const release: Record<string, () => void> = {};
    const holder = (name: string) =>
      locks.run('k', async () => {
        log.push(`${name} in`);
        await new Promise<void>((resolve) => (release[name] = resolve));
        log.push(`${name} out`);
        return name;
      });
    const a = holder('a');
    const b = holder('b');
    const c = holder('c');
    await tick();
    expect(log).toEqual(['a in']);
    release['a']?.();
    await tick();
    expect(log).toEqual(['a in', 'a out', 'b in']);
    release['b']?.();
    await tick();
    release['c']?.();
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(locks.size).toBe(0);
  });

  it('lets different keys run at once, and a failing holder does not keep the key', async () => {
    const locks = new TargetLocks();
    let inside = 0;
    let most = 0;
    const work = (key: string) =>
      locks.run(key, async () => {
        inside++;
        most = Math.max(most, inside);
        await tick();
        inside--;
      });
    await Promise.all([work('x'), work('y'), work('z')]);
    expect(most).toBe(3);
    await expect(
      locks.run('x', async () => {
        throw new Error('APPEND refused');
      }),
    ).rejects.toThrow('APPEND refused');
    expect(await locks.run('x', async () => 'next')).toBe('next');
    expect(locks.size).toBe(0);
  });

  it('keys a message by mailbox without case, INBOX without case and other folders exactly', () => {
    expect(targetKey('Alice@Example.org', 'inbox', 'c1')).toBe(targetKey('alice@example.org', 'INBOX', 'c1'));
    expect(targetKey('a@x', 'Archive', 'c1')).not.toBe(targetKey('a@x', 'archive', 'c1'));
    expect(targetKey('a@x', 'INBOX', 'c1')).not.toBe(targetKey('a@x', 'INBOX', 'c2'));
    expect(folderKey('a@x', 'Archive')).not.toBe(targetKey('a@x', 'Archive', 'c1'));
  });
});

describe('SessionBudget', () => {
  it('gives a job what is free, makes the next wait for its first session, and hands given-back ones over', async () => {
    const budget = new SessionBudget(4);
    expect(await budget.take('Ann@x', 4)).toBe(4);
    expect(budget.shouldYield('ann@x')).toBe(false);
    let second = 0;
    const waiting = budget.take('ann@X', 4).then((n) => (second = n));
    await tick();
    expect(second).toBe(0);
    expect(budget.shouldYield('ann@x')).toBe(true);
    budget.give('ann@x');
    await waiting;
    // Only the handed-over session was free.
    expect(second).toBe(1);
    expect(budget.held).toBe(4);
    // Another mailbox has its own sessions.
    expect(await budget.take('ben@x', 2)).toBe(2);
    budget.give('ann@x', 3);
    budget.give('ann@x', 1);
    budget.give('ben@x', 2);
    expect(budget.held).toBe(0);
    expect(() => budget.give('ann@x')).toThrow(/without take/);
    expect(() => new SessionBudget(0)).toThrow(RangeError);
  });
});
