import { describe, expect, it } from 'vitest';
import { OpsLogTally, parseOpsLogEntry, s3RequestKind, scanOpsLog, type OpsLogEntry } from './rgw-ops-log.js';

/** A line as Ceph 16.2's RGW writes it (fields trimmed to those that matter, plus a few others). */
function line(operation: string, uri: string, status = '200', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    bucket: 'mlr-objects',
    time: '2026-12-06T21:51:12.292650Z',
    remote_addr: '127.0.0.1',
    user: 'mlr-a620e85e220fa63a',
    operation,
    uri,
    http_status: status,
    error_code: '',
    bytes_sent: 0,
    bytes_received: 0,
    object_size: 0,
    total_time: 4,
    user_agent: 'aws-sdk-js/3.1172.0',
    trans_id: 'tx0000072f9d3b893905b02-006b15d8d0-1018-default',
    ...extra,
  });
}

const kind = (operation: string, uri: string) => s3RequestKind(parseOpsLogEntry(line(operation, uri)) as OpsLogEntry);

describe('RGW ops log', () => {
  it('reads the method, target, status and byte counts of a line', () => {
    expect(
      parseOpsLogEntry(
        line('put_obj', 'PUT /mlr-objects/k1?x-id=PutObject?x-id=PutObject HTTP/1.1', '200', {
          bytes_received: 13,
        }),
      ),
    ).toEqual({
      operation: 'put_obj',
      method: 'PUT',
      target: '/mlr-objects/k1?x-id=PutObject?x-id=PutObject',
      status: 200,
      bytesReceived: 13,
      bytesSent: 0,
    });
  });

  it('ignores blank, partial and foreign lines', () => {
    expect(parseOpsLogEntry('')).toBeUndefined();
    expect(parseOpsLogEntry('{"bucket":"mlr-objects","time":"2026')).toBeUndefined();
    expect(parseOpsLogEntry('2026-12-06 radosgw started')).toBeUndefined();
    expect(parseOpsLogEntry('{"bucket":"x"}')).toBeUndefined();
  });

  it('tells HEAD from GET and parts from whole objects, which RGW logs under one operation', () => {
    expect(kind('get_obj', 'HEAD /mlr-objects/k1 HTTP/1.1')).toBe('HEAD object');
    expect(kind('get_obj', 'GET /mlr-objects/k1?x-id=GetObject?x-id=GetObject HTTP/1.1')).toBe('GET object');
    expect(kind('put_obj', 'PUT /mlr-objects/k1?x-id=PutObject?x-id=PutObject HTTP/1.1')).toBe('PUT object');
    expect(
      kind(
        'put_obj',
        'PUT /mlr-objects/mp?partNumber=1&uploadId=2~uABH&x-id=UploadPart?partNumber=1&uploadId=2~uABH HTTP/1.1',
      ),
    ).toBe('multipart part');
    expect(kind('init_multipart', 'POST /mlr-objects/mp?uploads=?uploads= HTTP/1.1')).toBe('multipart init');
    expect(kind('complete_multipart', 'POST /mlr-objects/mp?uploadId=2~u?uploadId=2~u HTTP/1.1')).toBe(
      'multipart complete',
    );
    expect(kind('list_bucket', 'GET /mlr-objects/?list-type=2?list-type=2 HTTP/1.1')).toBe('LIST objects');
    expect(kind('list_bucket', 'GET /mlr-objects/?versions=?versions= HTTP/1.1')).toBe('LIST objects');
    expect(kind('stat_bucket', 'HEAD /mlr-objects/ HTTP/1.1')).toBe('HEAD bucket');
    expect(kind('delete_obj', 'DELETE /mlr-objects/k2?x-id=DeleteObject HTTP/1.1')).toBe('DELETE object');
    // Whatever has no name of ours keeps RGW's, with its method.
    expect(kind('put_obj_retention', 'PUT /mlr-objects/cp?retention=?retention= HTTP/1.1')).toBe(
      'PUT put_obj_retention',
    );
  });

  it('finds every entry also when RGW left out the newline between two, and keeps a partial one for later', () => {
    const a = line('put_obj', 'PUT /mlr-objects/a HTTP/1.1');
    const b = line('get_obj', 'HEAD /mlr-objects/{odd}"key" HTTP/1.1');
    const c = line('put_obj', 'PUT /mlr-objects/c HTTP/1.1');
    const text = `${a}\n${b}${c}\n${c.slice(0, 40)}`;
    const scanned = scanOpsLog(Buffer.from(text));
    expect(scanned.entries.map((e) => e.text)).toEqual([a, b, c]);
    expect(scanned.entries.map((e) => e.end)).toEqual([
      a.length,
      a.length + 1 + b.length,
      a.length + 1 + b.length + c.length,
    ]);
    expect(scanned.consumed).toBe(text.length - 40);
    expect(scanned.unreadable).toBe(0);
    // The rest of the partial entry arrives with the next read.
    expect(scanOpsLog(Buffer.from(`${c}\n`)).entries.map((e) => e.text)).toEqual([c]);
  });

  it('counts what is not an entry, and starts again after an entry that never ends', () => {
    const a = line('put_obj', 'PUT /mlr-objects/a HTTP/1.1');
    const torn = `{"bucket":"mlr-objects","uri":"${'x'.repeat(70_000)}`;
    const scanned = scanOpsLog(Buffer.from(`garbage\n${a}\n${torn}\n${a}\n`));
    expect(scanned.entries.map((e) => e.text)).toEqual([a, a]);
    expect(scanned.unreadable).toBe(2);
  });

  it('adds up a window by kind, failures and bytes, leaving out excluded entries', () => {
    const tally = new OpsLogTally((entry) => entry.target.includes('.mlr-ops-log-marker'));
    for (const text of [
      line('put_obj', 'PUT /mlr-objects/a HTTP/1.1', '200', { bytes_received: 100 }),
      line('put_obj', 'PUT /mlr-objects/b HTTP/1.1', '200', { bytes_received: 50 }),
      line('get_obj', 'HEAD /mlr-objects/missing HTTP/1.1', '404'),
      line('get_obj', 'GET /mlr-objects/a HTTP/1.1', '200', { bytes_sent: 100 }),
      line('get_obj', 'HEAD /mlr-objects/.mlr-ops-log-marker/x HTTP/1.1', '404'),
      '{"not":"an entry"}',
    ])
      tally.add(text);
    expect(tally.result()).toEqual({
      total: 4,
      byKind: { 'PUT object': 2, 'GET object': 1, 'HEAD object': 1 },
      failed: 1,
      bytesReceived: 150,
      bytesSent: 100,
      unreadable: 1,
    });
  });
});
