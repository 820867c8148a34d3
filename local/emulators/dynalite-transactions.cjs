// dynalite with DynamoDB's TransactWriteItems, which dynalite itself does not implement
// (architect/dynalite#151). The identity graph commits every change of who-is-who (new identifiers,
// merges) as one transaction, so the local runtime and the tests need the real semantics:
//  - all or nothing: every write of the transaction is applied, or none is;
//  - isolation: no other request sees part of it (a transaction runs alone; the other requests run
//    concurrently with each other as before, and wait only while a transaction runs);
//  - each action's own condition, evaluated against the state before the transaction, and a
//    TransactionCanceledException with one CancellationReason per action when any fails;
//  - the service's validation: at most 100 actions, one action per item, exactly one of
//    Put / Update / Delete / ConditionCheck per action;
//  - consumed capacity reported as twice the units of the same writes outside a transaction.
//  - all or nothing across a crash too: with a data directory, the state before is journaled (fsync)
//    before the first write and the journal removed once the transaction is settled; a journal found
//    at start is rolled back (its caller never got an answer, as when DynamoDB times out).
// Not emulated: ClientRequestToken idempotency, TransactionConflict between two transactions (they
// are serialized here) and TransactGetItems (the CDP does not use it).
//
// It is dynalite's own request handler underneath: the actions of a transaction are executed by it,
// one at a time, under an exclusive lock, and undone from a snapshot taken before when one fails.
const dynalite = require('dynalite');
const fs = require('node:fs');
const path = require('node:path');
const { PassThrough } = require('node:stream');

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = true;
    else {
      out[a.slice(2)] = /^\d+$/.test(next) ? Number(next) : next;
      i++;
    }
  }
  return out;
}

/** Shared lock for ordinary requests, exclusive for transactions; a waiting transaction goes first. */
class Gate {
  constructor() {
    this.shared = 0;
    this.exclusive = false;
    this.waiting = [];
  }
  acquire(exclusive) {
    return new Promise((resolve) => {
      this.waiting.push({ exclusive, resolve });
      this.drain();
    });
  }
  release(exclusive) {
    if (exclusive) this.exclusive = false;
    else this.shared--;
    this.drain();
  }
  drain() {
    while (this.waiting.length && !this.exclusive) {
      const next = this.waiting[0];
      if (next.exclusive) {
        if (this.shared > 0) return;
        this.exclusive = true;
      } else this.shared++;
      this.waiting.shift();
      next.resolve();
    }
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const server = dynalite(args);
  const [handle] = server.listeners('request');
  server.removeAllListeners('request');
  const gate = new Gate();
  const journal = args.path ? path.join(String(args.path), 'transaction-journal.json') : undefined;

  /** The state before a transaction, durably, before its first write. */
  function writeJournal(headers, actions, before) {
    if (!journal) return;
    const entries = actions.map((a, i) => ({ table: a.table, key: a.key, item: before[i] }));
    const fd = fs.openSync(journal, 'w');
    fs.writeSync(fd, JSON.stringify({ headers, entries }));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  const clearJournal = () => journal && fs.rmSync(journal, { force: true });

  /** A transaction the process died in the middle of: put back what was there before. */
  async function recover() {
    if (!journal || !fs.existsSync(journal)) return;
    let pending;
    try {
      pending = JSON.parse(fs.readFileSync(journal, 'utf8'));
    } catch {
      // Torn while being written: no write of that transaction had started.
      return clearJournal();
    }
    await undo(
      pending.headers,
      pending.entries.map((e) => ({ table: e.table, key: e.key })),
      pending.entries.map((e) => e.item),
    );
    clearJournal();
    console.log(`rolled back a transaction of ${pending.entries.length} actions interrupted by a stop`);
  }

  server.on('request', (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.endsWith('.TransactWriteItems')) {
      transact(req, res).catch((err) =>
        send(res, 500, { __type: 'InternalServerError', message: String(err) }),
      );
      return;
    }
    // Ordinary requests: dynalite's handler, once no transaction runs. The body stays buffered in the
    // paused request until the handler reads it.
    gate.acquire(false).then(() => {
      let released = false;
      const done = () => {
        if (!released) {
          released = true;
          gate.release(false);
        }
      };
      res.once('finish', done);
      res.once('close', done);
      handle(req, res);
    });
  });

  /** One DynamoDB call through dynalite's handler, with the transaction request's headers. */
  function call(headers, operation, payload) {
    return new Promise((resolve) => {
      const req = new PassThrough();
      req.headers = { ...headers, 'x-amz-target': `DynamoDB_20120810.${operation}` };
      req.method = 'POST';
      req.url = '/';
      const res = {
        statusCode: 200,
        setHeader() {},
        end(body) {
          resolve({ status: this.statusCode, body: body ? JSON.parse(String(body)) : {} });
        },
      };
      handle(req, res);
      req.end(JSON.stringify(payload));
    });
  }

  const keySchemas = new Map();
  async function keyNames(headers, table) {
    if (!keySchemas.has(table)) {
      const r = await call(headers, 'DescribeTable', { TableName: table });
      if (r.status !== 200) return { error: r };
      keySchemas.set(
        table,
        r.body.Table.KeySchema.map((k) => k.AttributeName),
      );
    }
    return { names: keySchemas.get(table) };
  }

  async function transact(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let input;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      return send(res, 400, { __type: 'com.amazon.coral.service#SerializationException' });
    }
    const headers = { ...req.headers };
    delete headers['content-length'];
    const items = Array.isArray(input.TransactItems) ? input.TransactItems : [];
    if (items.length < 1 || items.length > 100)
      return validation(
        res,
        `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1`,
      );

    // What each action does, and to which item.
    const actions = [];
    const seen = new Set();
    for (const item of items) {
      const kinds = ['Put', 'Update', 'Delete', 'ConditionCheck'].filter((k) => item[k]);
      if (kinds.length !== 1)
        return validation(res, 'TransactItems can only contain one of Check, Put, Update or Delete');
      const kind = kinds[0];
      const body = item[kind];
      const table = body.TableName;
      const schema = await keyNames(headers, table);
      if (schema.error) return send(res, schema.error.status, schema.error.body);
      const source = kind === 'Put' ? body.Item : body.Key;
      if (!source) return validation(res, `${kind} needs ${kind === 'Put' ? 'Item' : 'Key'}`);
      const key = Object.fromEntries(schema.names.map((n) => [n, source[n]]));
      const id = `${table}|${JSON.stringify(key)}`;
      if (seen.has(id))
        return validation(res, 'Transaction request cannot include multiple operations on one item');
      seen.add(id);
      actions.push({ kind, body, table, key });
    }

    await gate.acquire(true);
    try {
      // The state before: what a failed transaction restores.
      const before = [];
      for (const a of actions) {
        const r = await call(headers, 'GetItem', { TableName: a.table, Key: a.key, ConsistentRead: true });
        if (r.status !== 200) return send(res, r.status, r.body);
        before.push(r.body.Item);
      }
      writeJournal(headers, actions, before);
      const reasons = actions.map(() => ({ Code: 'None' }));
      const capacity = new Map();
      const charge = (table, units) => {
        const t = capacity.get(table) ?? { TableName: table, CapacityUnits: 0, WriteCapacityUnits: 0 };
        t.CapacityUnits += 2 * units;
        t.WriteCapacityUnits += 2 * units;
        capacity.set(table, t);
      };
      let failed = false;
      let applied = 0;
      for (const [i, a] of actions.entries()) {
        const common = {
          TableName: a.table,
          ...(a.body.ConditionExpression ? { ConditionExpression: a.body.ConditionExpression } : {}),
          ...(a.body.ExpressionAttributeNames
            ? { ExpressionAttributeNames: a.body.ExpressionAttributeNames }
            : {}),
          ...(a.body.ExpressionAttributeValues
            ? { ExpressionAttributeValues: a.body.ExpressionAttributeValues }
            : {}),
          ...(input.ReturnConsumedCapacity ? { ReturnConsumedCapacity: input.ReturnConsumedCapacity } : {}),
        };
        let r;
        if (a.kind === 'ConditionCheck' || failed) {
          // A condition alone: checked by a no-op update on the item, undone with the rest below. Only
          // the names and values the condition uses are passed (an action's others belong to its update).
          if (!a.body.ConditionExpression) continue;
          const used = (map) =>
            Object.fromEntries(
              Object.entries(map ?? {}).filter(([k]) =>
                new RegExp(`${k}(?![A-Za-z0-9_])`).test(a.body.ConditionExpression),
              ),
            );
          const values = used(a.body.ExpressionAttributeValues);
          r = await call(headers, 'UpdateItem', {
            TableName: a.table,
            Key: a.key,
            ConditionExpression: a.body.ConditionExpression,
            UpdateExpression: 'REMOVE #txcheck',
            ExpressionAttributeNames: { ...used(a.body.ExpressionAttributeNames), '#txcheck': '__txcheck' },
            ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
          });
        } else if (a.kind === 'Put') r = await call(headers, 'PutItem', { ...common, Item: a.body.Item });
        else if (a.kind === 'Delete') r = await call(headers, 'DeleteItem', { ...common, Key: a.key });
        else
          r = await call(headers, 'UpdateItem', {
            ...common,
            Key: a.key,
            UpdateExpression: a.body.UpdateExpression,
          });
        applied = i + 1;
        if (r.status !== 200) {
          const type = String(r.body.__type ?? '');
          if (type.endsWith('ValidationException')) {
            // An item the service refuses (too large, a key too long) cancels the transaction, as in
            // DynamoDB, with the reason on its action.
            reasons[i] = { Code: 'ValidationError', Message: r.body.message ?? r.body.Message };
            failed = true;
            continue;
          }
          if (!type.endsWith('ConditionalCheckFailedException')) {
            await undo(headers, actions.slice(0, applied), before);
            clearJournal();
            return send(res, r.status, r.body);
          }
          reasons[i] = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
          failed = true;
          continue;
        }
        // Twice what the write costs alone; a check is charged as a 1-unit write.
        if (!failed)
          charge(a.table, a.kind === 'ConditionCheck' ? 1 : (r.body.ConsumedCapacity?.CapacityUnits ?? 0));
      }
      if (failed) {
        await undo(headers, actions.slice(0, applied), before);
        clearJournal();
        return send(res, 400, {
          __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
          CancellationReasons: reasons,
        });
      }
      // A check's no-op update created the item it checked when there was none: removed again.
      for (const [i, a] of actions.entries())
        if (a.kind === 'ConditionCheck' && !before[i])
          await call(headers, 'DeleteItem', { TableName: a.table, Key: a.key });
      clearJournal();
      return send(res, 200, input.ReturnConsumedCapacity ? { ConsumedCapacity: [...capacity.values()] } : {});
    } finally {
      gate.release(true);
    }
  }

  async function undo(headers, done, before) {
    for (const [i, a] of done.entries()) {
      if (before[i]) await call(headers, 'PutItem', { TableName: a.table, Item: before[i] });
      else await call(headers, 'DeleteItem', { TableName: a.table, Key: a.key });
    }
  }

  function validation(res, message) {
    return send(res, 400, { __type: 'com.amazon.coral.validate#ValidationException', message });
  }

  function send(res, status, body) {
    const text = JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/x-amz-json-1.0');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }

  // Nothing is served before an interrupted transaction is rolled back.
  recover().then(() =>
    server.listen(args.port || 4567, args.host || undefined, () => {
      console.log(
        `dynalite (with TransactWriteItems) listening at http://${args.host || 'localhost'}:${server.address().port}`,
      );
    }),
  );
}

main();
