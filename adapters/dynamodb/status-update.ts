import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * Sets fields of an existing job record (an import, a replay); with `expectStatus`, only while the
 * record is in one of those states, so a late step cannot undo a cancellation or a finish. Returns false
 * when the record is missing or in another state.
 */
export async function updateJobRecord(
  ddb: DynamoDBDocumentClient,
  table: string,
  key: { pk: string; sk: string },
  fields: Record<string, unknown>,
  expectStatus?: readonly string[],
): Promise<boolean> {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = entries.map(([k, v], i) => {
    names[`#f${i}`] = k;
    values[`:v${i}`] = v;
    return `#f${i} = :v${i}`;
  });
  let condition = 'attribute_exists(pk)';
  if (expectStatus?.length) {
    names['#status'] = 'status';
    expectStatus.forEach((s, i) => {
      values[`:s${i}`] = s;
    });
    condition += ` AND #status IN (${expectStatus.map((_, i) => `:s${i}`).join(', ')})`;
  }
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if ((err as Error).name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}
