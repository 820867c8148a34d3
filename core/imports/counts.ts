/**
 * What an import did with a file's rows, summed over its slices. Its own module: the functions that
 * only start imports and report on them (the import API, the bucket trigger) need the counts, not the
 * row parsing, mapping and event validation of `run.ts`.
 */
export interface ImportCounts {
  /** Data rows read (the header is not a row). */
  readonly rowsRead: number;
  /** Rows put on the events stream. */
  readonly accepted: number;
  /** Rows refused, each with its row, column and reason in the errors file. */
  readonly refused: number;
  /** Rows of suppressed people, dropped on purpose (privacy regulations), as the API drops them. */
  readonly suppressed: number;
}

export const NO_COUNTS: ImportCounts = { rowsRead: 0, accepted: 0, refused: 0, suppressed: 0 };

export function addCounts(a: ImportCounts, b: ImportCounts): ImportCounts {
  return {
    rowsRead: a.rowsRead + b.rowsRead,
    accepted: a.accepted + b.accepted,
    refused: a.refused + b.refused,
    suppressed: a.suppressed + b.suppressed,
  };
}
