/**
 * Wire encoding of payloads. JSON messages carry the payload as a UTF-8 JSON body and no header of
 * ours. Binary messages (chunks of encrypted objects) carry the raw bytes as the body and their small
 * JSON header in the `Mlr-Meta` NATS header, marked by `Mlr-Encoding: binary`. Framed messages (commit
 * batches: a large JSON payload plus the bytes it describes) carry both in the body, marked by
 * `Mlr-Encoding: framed`: a 4-byte big-endian length, that many bytes of UTF-8 JSON, then the bytes.
 */

export const ENCODING_HEADER = 'Mlr-Encoding';
export const META_HEADER = 'Mlr-Meta';
export const BINARY_ENCODING = 'binary';
export const FRAMED_ENCODING = 'framed';
const FRAME_LENGTH_BYTES = 4;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The body could not be decoded (not JSON, not UTF-8, missing header): the message is not ours. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export interface EncodedMessage {
  body: Uint8Array;
  /** Headers to add (besides the ones JetStream sets, such as `Nats-Msg-Id`). */
  headers: Record<string, string>;
}

export function encodeJson(payload: unknown): EncodedMessage {
  const text = JSON.stringify(payload);
  if (text === undefined) throw new TypeError('payload is not JSON-serialisable');
  return { body: encoder.encode(text), headers: {} };
}

export function encodeBinary(meta: unknown, data: Uint8Array): EncodedMessage {
  // JSON.stringify escapes CR and LF inside strings and adds no whitespace, so the value is a valid
  // single-line header value.
  const text = JSON.stringify(meta);
  if (text === undefined) throw new TypeError('binary message header is not JSON-serialisable');
  return { body: data, headers: { [ENCODING_HEADER]: BINARY_ENCODING, [META_HEADER]: text } };
}

/** `meta` as JSON and `data` (in pieces, joined here) in one body. */
export function encodeFramed(meta: unknown, data: readonly Uint8Array[]): EncodedMessage {
  const text = JSON.stringify(meta);
  if (text === undefined) throw new TypeError('framed message meta is not JSON-serialisable');
  const json = encoder.encode(text);
  const length = new Uint8Array(FRAME_LENGTH_BYTES);
  new DataView(length.buffer).setUint32(0, json.length);
  return { body: Buffer.concat([length, json, ...data]), headers: { [ENCODING_HEADER]: FRAMED_ENCODING } };
}

export interface DecodedMessage {
  /** The JSON payload (or the binary message's JSON header), still unvalidated. */
  payload: unknown;
  /** The raw body of a binary message; undefined for JSON messages. */
  data: Uint8Array | undefined;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DecodeError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Decodes a message body; `header` reads a NATS header (undefined when absent). */
export function decodeMessage(body: Uint8Array, header: (name: string) => string | undefined): DecodedMessage {
  const encoding = header(ENCODING_HEADER);
  if (encoding === BINARY_ENCODING) {
    const meta = header(META_HEADER);
    if (meta === undefined || meta === '') throw new DecodeError(`binary message without ${META_HEADER} header`);
    return { payload: parseJson(meta, `${META_HEADER} header`), data: body };
  }
  if (encoding === FRAMED_ENCODING) {
    if (body.length < FRAME_LENGTH_BYTES) throw new DecodeError('framed message shorter than its length field');
    const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
    if (length > body.length - FRAME_LENGTH_BYTES) {
      throw new DecodeError(
        `framed message says ${length} bytes of JSON, but only ${body.length - FRAME_LENGTH_BYTES} follow`,
      );
    }
    let text: string;
    try {
      text = decoder.decode(body.subarray(FRAME_LENGTH_BYTES, FRAME_LENGTH_BYTES + length));
    } catch {
      throw new DecodeError('framed message meta is not UTF-8 text');
    }
    return { payload: parseJson(text, 'framed message meta'), data: body.subarray(FRAME_LENGTH_BYTES + length) };
  }
  if (encoding !== undefined && encoding !== '' && encoding !== 'json') {
    throw new DecodeError(`unknown ${ENCODING_HEADER} "${encoding}"`);
  }
  if (body.length === 0) throw new DecodeError('empty message body (expected JSON)');
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new DecodeError('message body is not UTF-8 text (expected JSON)');
  }
  return { payload: parseJson(text, 'message body'), data: undefined };
}
