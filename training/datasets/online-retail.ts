import { join } from 'node:path';
import type { FieldError } from '../../src/errors.ts';
import { InputError } from '../../src/errors.ts';
import { splitCsvFields } from '../../src/store/import/csv-fields.ts';
import { openInput } from '../../src/store/import/open-input.ts';
import type { OnlineRetailRow } from '../../src/store/import/online-retail-mapper.ts';
import { OnlineRetailRows } from '../../src/store/import/online-retail-mapper.ts';
import type { RecordChunks } from '../../src/store/import/record-splitter.ts';
import { splitRecords } from '../../src/store/import/record-splitter.ts';
import type { InteractionDataset } from './interaction-dataset.ts';
import { GrowableColumn, IdIndex } from './interaction-dataset.ts';

/** Path of the file inside the datasets folder. */
export const ONLINE_RETAIL_FILE = join('online-retail-uci', 'online_retail.csv.gz');

/** Reads `<datasetsDir>/online-retail-uci/online_retail.csv.gz` (streamed, gunzipped). */
export async function loadOnlineRetail(datasetsDir: string): Promise<InteractionDataset> {
  const input = await openInput(join(datasetsDir, ONLINE_RETAIL_FILE));
  try {
    return await parseOnlineRetail(input.stream);
  } finally {
    input.stream.destroy();
  }
}

/**
 * The evaluation protocol's filter (/work/shared/EVALUATION.md) over the importer's parse of a
 * row: keep rows with a CustomerID, an InvoiceNo not starting with `C`, Quantity > 0 and a
 * StockCode starting with five digits.
 */
export function keptForEvaluation(row: OnlineRetailRow): boolean {
  return row.customerId !== '' && !row.cancelled && row.quantity > 0 && row.product;
}

/**
 * Parses the UCI Online Retail CSV (UTF-8 bytes or text, any chunking) with the importer's row
 * parser, then keeps the rows {@link keptForEvaluation} accepts. user = CustomerID without the
 * float suffix (`17850.0` → `17850`), item = StockCode, timestamp = InvoiceDate read as UTC
 * (the file's local UK time, used consistently), value = Quantity. Item text is the first
 * non-empty Description of each StockCode anywhere in the file, trimmed. Users and items are
 * indexed in order of first kept appearance. A row the importer would reject fails the load.
 */
export async function parseOnlineRetail(chunks: RecordChunks): Promise<InteractionDataset> {
  const users = new IdIndex();
  const items = new IdIndex();
  const userCol = new GrowableColumn((n) => new Int32Array(n));
  const itemCol = new GrowableColumn((n) => new Int32Array(n));
  const timeCol = new GrowableColumn((n) => new Float64Array(n));
  const valueCol = new GrowableColumn((n) => new Float32Array(n));
  const descriptions = new Map<string, string>();
  let rows: OnlineRetailRows | null = null;
  const errors: FieldError[] = [];
  const fail = (line: number, reason: string) => {
    throw new InputError(`online-retail line ${line}: ${reason}`);
  };
  await splitRecords(
    chunks,
    { quoted: true, encoding: 'utf-8' },
    {
      record(text, line) {
        const fields = splitCsvFields(text);
        if (fields === null) return fail(line, 'has an unterminated quoted field');
        if (rows === null) {
          try {
            rows = new OnlineRetailRows(fields, line);
          } catch (err) {
            if (err instanceof InputError) throw new InputError(`online-retail: ${err.message}`);
            throw err;
          }
          return;
        }
        errors.length = 0;
        const row = rows.parse(fields, errors);
        if (row === null || errors.length) {
          return fail(line, errors.map((e) => `${e.field} ${e.reason}`).join('; '));
        }
        if (row.description !== '' && !descriptions.has(row.stockCode)) {
          descriptions.set(row.stockCode, row.description);
        }
        if (!keptForEvaluation(row)) return;
        userCol.push(users.indexOf(row.customerId));
        itemCol.push(items.indexOf(row.stockCode));
        timeCol.push(row.timestamp / 1000);
        valueCol.push(row.quantity);
      },
      invalid: fail,
    },
  );
  if (rows === null) throw new InputError('online-retail: empty file');
  return {
    name: 'online-retail',
    userCount: users.size,
    itemCount: items.size,
    users: userCol.finish(),
    items: itemCol.finish(),
    timestamps: timeCol.finish(),
    values: valueCol.finish(),
    userIds: users.ids,
    itemIds: items.ids,
    itemTitles: items.ids.map((id) => descriptions.get(id) ?? ''),
    itemCategories: items.ids.map(() => []),
  };
}
