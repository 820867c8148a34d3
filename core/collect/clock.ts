/**
 * Segment's clock-skew correction. A device clock may be hours off; `sentAt` and the event time come
 * from the same clock, so their difference is trustworthy even when both are wrong:
 *   timestamp = receivedAt - (sentAt - originalTimestamp)
 * Without `sentAt` the client's time is kept as is; without an event time the event happened when it
 * was received.
 */
export function correctTimestamp(
  receivedAt: Date,
  clientTimestamp: string | undefined,
  sentAt: string | undefined,
): Date {
  if (clientTimestamp === undefined) return receivedAt;
  const original = Date.parse(clientTimestamp);
  if (sentAt === undefined) return new Date(original);
  const skewed = Date.parse(sentAt) - original;
  return new Date(receivedAt.getTime() - skewed);
}
