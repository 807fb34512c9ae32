import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DATA_POOL = 'default.rgw.buckets.data';
/** RGW keeps the first 4 MiB of an object in its head RADOS object (`rgw max chunk size`). */
const HEAD_BYTES = 4 * 1024 * 1024;

/**
 * Flips one byte of one stored S3 object version inside Ceph itself, under RGW: what bit rot or a
 * faulty disk does, with no new version and no S3 request. Readers that pin the version get the
 * damaged bytes. Only the first 4 MiB of a version (its head object) can be reached this way.
 * Resolves with a function that flips the byte back.
 */
export async function corruptObjectInPlace(options: {
  /** The Ceph instance's directory (`<infra dir>/ceph`). */
  cephDir: string;
  key: string;
  versionId: string;
  offset: number;
}): Promise<() => Promise<void>> {
  if (!Number.isSafeInteger(options.offset) || options.offset < 0 || options.offset >= HEAD_BYTES) {
    throw new RangeError(`corruptObjectInPlace reaches bytes 0..${HEAD_BYTES - 1} only, not ${options.offset}`);
  }
  const rados = (...args: string[]) =>
    run('rados', ['--conf', join(options.cephDir, 'ceph.conf'), '-p', DATA_POOL, ...args], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  const { stdout } = await rados('ls');
  const suffix = `__:${options.versionId}_${options.key}`;
  const head = stdout.split('\n').find((name) => name.endsWith(suffix));
  if (!head) throw new Error(`no RADOS head object for ${options.key} version ${options.versionId}`);
  const flip = async () => {
    const work = mkdtempSync(join(tmpdir(), 'mlr-corrupt-'));
    try {
      const whole = join(work, 'object');
      await rados('get', head, whole);
      const bytes = readFileSync(whole);
      if (options.offset >= bytes.length) {
        throw new RangeError(`byte ${options.offset} is past the ${bytes.length} bytes of ${head}`);
      }
      const patch = join(work, 'patch');
      writeFileSync(patch, Buffer.from([(bytes[options.offset] as number) ^ 0xff]));
      await rados('put', head, patch, '--offset', String(options.offset));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
  await flip();
  return flip;
}
