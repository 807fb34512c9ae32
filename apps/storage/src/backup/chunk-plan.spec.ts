import { describe, expect, it } from 'vitest';
import { BackupError, BackupErrorCode } from './backup.exception.js';
import {
  describeIndexes,
  missingChunksDeadline,
  planChunks,
  type ExpectedUpload,
  type FoundChunk,
} from './chunk-plan.js';

const contentId = 'a'.repeat(64);
const upload: ExpectedUpload = { tenantId: 'acme', uploadId: 'u1', contentId, chunkCount: 3, sealedSize: 250 };

function chunk(
  index: number,
  offset: number,
  size: number,
  sequence: number,
  overrides: Partial<FoundChunk['header']> = {},
): FoundChunk {
  return {
    sequence,
    size,
    header: { tenantId: 'acme', uploadId: 'u1', contentId, chunkIndex: index, chunkCount: 3, offset, ...overrides },
  };
}

function inconsistency(run: () => unknown): BackupError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).code).toBe(BackupErrorCode.ChunksInconsistent);
    return error as BackupError;
  }
  throw new Error('expected the chunks to be refused');
}

describe('planChunks', () => {
  it('puts chunks published in any order into object order', () => {
    const plan = planChunks(upload, [chunk(2, 200, 50, 7), chunk(0, 0, 100, 8), chunk(1, 100, 100, 9)]);
    expect(plan).toEqual({
      complete: true,
      chunks: [
        { index: 0, offset: 0, size: 100, sequence: 8 },
        { index: 1, offset: 100, size: 100, sequence: 9 },
        { index: 2, offset: 200, size: 50, sequence: 7 },
      ],
    });
  });

  it('reads the newest of identical copies of a chunk', () => {
    const plan = planChunks(upload, [
      chunk(0, 0, 100, 1),
      chunk(1, 100, 100, 2),
      chunk(0, 0, 100, 5),
      chunk(2, 200, 50, 3),
    ]);
    expect(plan.complete && plan.chunks[0]?.sequence).toBe(5);
  });

  it('names the chunks that have not arrived', () => {
    expect(planChunks(upload, [chunk(1, 100, 100, 2)])).toEqual({ complete: false, missing: [0, 2], present: 1 });
    expect(planChunks(upload, [])).toEqual({ complete: false, missing: [0, 1, 2], present: 0 });
  });

  it('refuses chunks that contradict the commit', () => {
    expect(
      inconsistency(() => planChunks(upload, [chunk(0, 0, 100, 1, { contentId: 'b'.repeat(64) })])).message,
    ).toContain(`chunk of object ${'b'.repeat(64)}`);
    expect(inconsistency(() => planChunks(upload, [chunk(0, 0, 100, 1, { chunkCount: 4 })])).message).toContain(
      'says the upload has 4 chunks, the commit says 3',
    );
    expect(inconsistency(() => planChunks(upload, [chunk(2, 200, 60, 1)])).message).toContain(
      'ends at byte 260, beyond the sealed size 250',
    );
    expect(
      inconsistency(() => planChunks(upload, [{ sequence: 4, problem: 'invalid chunks message' }])).message,
    ).toContain('message 4 is not a valid chunk: invalid chunks message');
    inconsistency(() => planChunks(upload, [chunk(0, 0, 0, 1)]));
  });

  it('refuses copies of one chunk that differ', () => {
    const error = inconsistency(() => planChunks(upload, [chunk(1, 100, 100, 2), chunk(1, 90, 100, 6)]));
    expect(error.message).toContain('two different copies of chunk 1');
  });

  it('refuses gaps, overlaps and a total that is not the sealed size', () => {
    expect(
      inconsistency(() => planChunks(upload, [chunk(0, 0, 100, 1), chunk(1, 110, 90, 2), chunk(2, 200, 50, 3)]))
        .message,
    ).toContain('chunk 1 starts at byte 110, but the chunks before it end at byte 100');
    expect(
      inconsistency(() => planChunks(upload, [chunk(0, 0, 100, 1), chunk(1, 90, 100, 2), chunk(2, 200, 50, 3)]))
        .message,
    ).toContain('chunk 1 starts at byte 90');
    expect(
      inconsistency(() => planChunks(upload, [chunk(0, 0, 100, 1), chunk(1, 100, 100, 2), chunk(2, 200, 40, 3)]))
        .message,
    ).toContain('the chunks hold 240 bytes, the commit says 250');
  });
});

describe('describeIndexes', () => {
  it('folds runs into ranges and cuts long lists', () => {
    expect(describeIndexes([0, 2, 3, 4, 5, 9])).toBe('0, 2-5, 9');
    expect(describeIndexes([1, 3, 5, 7], 2)).toBe('1, 3, … (2 more)');
    expect(describeIndexes([])).toBe('');
  });
});

describe('missingChunksDeadline', () => {
  it('ends when the chunk stream has dropped everything published before the commit', () => {
    expect(missingChunksDeadline(new Date('2026-01-01T10:00:00Z'), 24 * 3_600_000).toISOString()).toBe(
      '2026-01-02T10:00:00.000Z',
    );
  });
});
