import { randomBytes } from 'node:crypto';

/** A realistic ~50 KiB message: text body and a base64 attachment, unique per index. */
export function benchMessage(index: number, targetBytes: number): Buffer {
  const boundary = `b-${index}-${randomBytes(4).toString('hex')}`;
  const text = `Hello,\r\n\r\nthis is benchmark message ${index}. `.repeat(20);
  const attachment = randomBytes(Math.max(0, Math.floor((targetBytes - 2_000 - text.length) * 0.74)))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      `From: Sender ${index % 50} <sender${index % 50}@example.org>`,
      `To: bench@example.org`,
      `Subject: benchmark message ${index}`,
      `Date: ${new Date(Date.UTC(2026, 0, 1) + index * 60_000).toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <bench-${index}-${randomBytes(6).toString('hex')}@example.org>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      text,
      `--${boundary}`,
      `Content-Type: application/octet-stream; name="report-${index}.bin"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="report-${index}.bin"`,
      '',
      attachment,
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}
