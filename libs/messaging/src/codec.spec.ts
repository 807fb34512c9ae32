import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeMessage,
  encodeBinary,
  encodeFramed,
  encodeJson,
  ENCODING_HEADER,
  META_HEADER,
} from './codec.js';

const noHeaders = () => undefined;
const headerReader = (headers: Record<string, string>) => (name: string) => headers[name];

describe('codec', () => {
  it('round-trips a JSON payload without headers', () => {
    const encoded = encodeJson({ tenantId: 'acme', n: 1, text: 'Grüße ✓' });
    expect(encoded.headers).toEqual({});
    expect(decodeMessage(encoded.body, noHeaders)).toEqual({
      payload: { tenantId: 'acme', n: 1, text: 'Grüße ✓' },
      data: undefined,
    });
  });

  it('round-trips a binary message: bytes in the body, header as single-line JSON', () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 13, 10]);
    const meta = { contentId: 'ab', subject: 'line one\r\nline two', name: 'Bericht.pdf' };
    const encoded = encodeBinary(meta, bytes);
    expect(encoded.headers[ENCODING_HEADER]).toBe('binary');
    expect(encoded.headers[META_HEADER]).not.toMatch(/[\r\n]/);
    const decoded = decodeMessage(encoded.body, headerReader(encoded.headers));
    expect(decoded.payload).toEqual(meta);
    expect(decoded.data).toEqual(bytes);
  });

  it('round-trips a framed message: JSON meta and the bytes it describes in one body', () => {
    const meta = { items: [{ offset: 0, length: 3 }], text: 'Grüße' };
    const encoded = encodeFramed(meta, [new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect(encoded.headers).toEqual({ [ENCODING_HEADER]: 'framed' });
    const decoded = decodeMessage(encoded.body, headerReader(encoded.headers));
    expect(decoded.payload).toEqual(meta);
    expect([...(decoded.data ?? [])]).toEqual([1, 2, 3]);
  });

  it('refuses a framed message whose length field lies', () => {
    const framed = headerReader({ [ENCODING_HEADER]: 'framed' });
    expect(() => decodeMessage(new Uint8Array([0, 0]), framed)).toThrow(/shorter than its length field/);
    expect(() => decodeMessage(new Uint8Array([0, 0, 0, 9, 123]), framed)).toThrow(/says 9 bytes of JSON/);
  });

  it('refuses bodies that are not JSON with a reason', () => {
    expect(() => decodeMessage(new TextEncoder().encode('{nope'), noHeaders)).toThrow(DecodeError);
    expect(() => decodeMessage(new Uint8Array(), noHeaders)).toThrow(/empty message body/);
    expect(() => decodeMessage(new Uint8Array([0xff, 0xfe]), noHeaders)).toThrow(/not UTF-8/);
  });

  it('refuses a binary message without its header and unknown encodings', () => {
    expect(() => decodeMessage(new Uint8Array([1]), headerReader({ [ENCODING_HEADER]: 'binary' }))).toThrow(
      /without Mlr-Meta/,
    );
    expect(() => decodeMessage(new Uint8Array([1]), headerReader({ [ENCODING_HEADER]: 'cbor' }))).toThrow(
      /unknown Mlr-Encoding/,
    );
  });

  it('refuses payloads that JSON cannot carry', () => {
    expect(() => encodeJson(undefined)).toThrow(TypeError);
  });
});
