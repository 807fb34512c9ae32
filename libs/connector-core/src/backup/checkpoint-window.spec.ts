import { describe, expect, it } from 'vitest';
import { CheckpointWindow } from './checkpoint-window.js';

describe('checkpoint window', () => {
  it('advances only past UIDs that are finished, whatever order they finish in', () => {
    const window = new CheckpointWindow(10);
    for (const uid of [11, 12, 15]) window.add(uid);
    window.finish(12);
    expect(window.advance(20)).toBe(10);
    window.finish(11);
    expect(window.advance(20)).toBe(14);
    window.finish(15);
    expect(window.advance(20)).toBe(20);
  });

  it('stops before a failed UID so that the next run tries it again', () => {
    const window = new CheckpointWindow(0);
    for (const uid of [1, 2, 3]) window.add(uid);
    window.finish(1);
    window.fail(2);
    window.finish(3);
    expect(window.advance(3)).toBe(1);
  });

  it('never moves back', () => {
    const window = new CheckpointWindow(50);
    expect(window.advance(40)).toBe(50);
  });
});

describe('checkpoint window of a large folder', () => {
  it('advances message by message through 200,000 new UIDs (linear, not quadratic)', () => {
    const window = new CheckpointWindow(0);
    for (let uid = 1; uid <= 200_000; uid++) window.add(uid);
    for (let uid = 1; uid <= 200_000; uid++) {
      window.finish(uid);
      expect(window.advance(200_000)).toBe(uid === 200_000 ? 200_000 : uid);
    }
  });

  it('refuses UIDs added out of order', () => {
    const window = new CheckpointWindow(0);
    window.add(5);
    expect(() => window.add(3)).toThrow(/ascending/);
  });
});
