/**
 * Page cursors handed to API clients: an opaque base64url of the position (a DynamoDB key). A cursor
 * that does not decode is the client's mistake, reported as a RangeError the handlers answer with 400.
 */
export const encodeCursor = (position: unknown): string =>
  Buffer.from(JSON.stringify(position)).toString('base64url');

export function decodeCursor<T = Record<string, unknown>>(cursor: string | undefined): T | undefined {
  if (!cursor) return undefined;
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
  } catch {
    throw new RangeError('The cursor is not valid');
  }
}
