import { gunzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { INGEST_LIMITS } from '../../core/collect/limits.js';

export type DecodedBody =
  | { readonly ok: true; readonly json: unknown; readonly bytes: number }
  | { readonly ok: false; readonly status: 400 | 413 | 415; readonly code: string; readonly message: string };

// JSON from SDKs, text/plain from browser beacons (sendBeacon cannot set a JSON content type), and
// form-urlencoded because the RudderStack Node SDK posts its gzip bodies under axios' default type.
// The body must still be JSON; anything else is refused before parsing.
const ACCEPTED_TYPES = /^(application\/json|text\/plain|application\/x-www-form-urlencoded)\b/i;

/** Turns the API Gateway body into JSON: base64 and gzip undone, size capped before parsing. */
export function decodeBody(event: APIGatewayProxyEventV2): DecodedBody {
  const type = event.headers['content-type'];
  if (type && !ACCEPTED_TYPES.test(type))
    return {
      ok: false,
      status: 415,
      code: 'unsupported_media_type',
      message: 'Content-Type must be application/json',
    };
  const encoding = event.headers['content-encoding']?.toLowerCase();
  // A plain text body is already the string JSON.parse wants; copying it into a Buffer and back just
  // to measure it added about a third to the parse.
  if (event.body && !event.isBase64Encoded && (!encoding || encoding === 'identity'))
    return parseJson(event.body, Buffer.byteLength(event.body));
  let bytes = event.body
    ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  if (encoding === 'gzip') {
    try {
      // The cap makes a decompression bomb fail fast instead of filling memory.
      bytes = gunzipSync(bytes, { maxOutputLength: INGEST_LIMITS.maxBatchBytes + 1 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        return {
          ok: false,
          status: 413,
          code: 'batch_too_large',
          message: `A batch must be at most ${INGEST_LIMITS.maxBatchBytes} bytes`,
        };
      return {
        ok: false,
        status: 400,
        code: 'invalid_gzip',
        message: 'Content-Encoding is gzip but the body is not valid gzip',
      };
    }
  } else if (encoding && encoding !== 'identity') {
    return {
      ok: false,
      status: 415,
      code: 'unsupported_encoding',
      message: 'Content-Encoding must be gzip or absent',
    };
  }
  return parseJson(bytes.toString('utf8'), bytes.length);
}

function parseJson(text: string, bytes: number): DecodedBody {
  if (bytes > INGEST_LIMITS.maxBatchBytes)
    return {
      ok: false,
      status: 413,
      code: 'batch_too_large',
      message: `A batch must be at most ${INGEST_LIMITS.maxBatchBytes} bytes`,
    };
  if (bytes === 0)
    return { ok: false, status: 400, code: 'invalid_json', message: 'The body is empty; send a JSON object' };
  try {
    return { ok: true, json: JSON.parse(text), bytes };
  } catch {
    return { ok: false, status: 400, code: 'invalid_json', message: 'The body is not valid JSON' };
  }
}

/** The write key: HTTP Basic username (what Segment and RudderStack SDKs send) or `writeKey` in the body. */
export function writeKeyOf(event: APIGatewayProxyEventV2, body: unknown): string | undefined {
  const header = event.headers.authorization;
  if (header?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const user = decoded.split(':')[0];
    if (user) return user;
  }
  const inBody = (body as { writeKey?: unknown } | null)?.writeKey;
  return typeof inBody === 'string' && inBody ? inBody : undefined;
}
