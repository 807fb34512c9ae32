/**
 * Wire encoding of payloads. JSON messages carry the payload as a UTF-8 JSON body and no header of
 * ours. Binary messages (chunks of encrypted objects) carry the raw bytes as the body and their small
 * JSON header in the `Mlr-Meta` NATS header, marked by `Mlr-Encoding: binary`.
 */

export const ENCODING_HEADER = 'Mlr-Encoding';
export const META_HEADER = 'Mlr-Meta';
export const BINARY_ENCODING = 'binary';

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
