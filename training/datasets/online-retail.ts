import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { InputError } from '../../src/errors.ts';
import { CsvReader } from './csv-reader.ts';
import type { InteractionDataset } from './interaction-dataset.ts';
import { GrowableColumn, IdIndex } from './interaction-dataset.ts';
import { parseUtcDateTime } from '../../src/store/import/online-retail-mapper.ts';

/** Path of the file inside the datasets folder. */
export const ONLINE_RETAIL_FILE = join('online-retail-uci', 'online_retail.csv.gz');

const COLUMNS = ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'CustomerID'] as const;
const FIVE_DIGITS = /^\d{5}/;

/** Reads `<datasetsDir>/online-retail-uci/online_retail.csv.gz` (streamed, gunzipped). */
export async function loadOnlineRetail(datasetsDir: string): Promise<InteractionDataset> {
  const stream = createReadStream(join(datasetsDir, ONLINE_RETAIL_FILE)).pipe(createGunzip());
  stream.setEncoding('utf8');
  return parseOnlineRetail(stream as AsyncIterable<string>);
}

/**
 * Parses the UCI Online Retail CSV (any chunking) under the evaluation protocol
 * (/work/shared/EVALUATION.md): keep rows with a CustomerID, an InvoiceNo not starting with
 * `C`, Quantity > 0 and a StockCode starting with five digits. user = CustomerID without the
 * float suffix (`17850.0` → `17850`), item = StockCode, timestamp = InvoiceDate read as UTC
 * (the file's local UK time, used consistently), value = Quantity. Item text is the first
 * non-empty Description of each StockCode anywhere in the file, trimmed. Users and items are
 * indexed in order of first kept appearance.
 */
export async function parseOnlineRetail(
  chunks: Iterable<string> | AsyncIterable<string>,
): Promise<InteractionDataset> {
  const users = new IdIndex();
  const items = new IdIndex();
  const userCol = new GrowableColumn((n) => new Int32Array(n));
  const itemCol = new GrowableColumn((n) => new Int32Array(n));
  const timeCol = new GrowableColumn((n) => new Float64Array(n));
  const valueCol = new GrowableColumn((n) => new Float32Array(n));
  const descriptions = new Map<string, string>();
  let header: number[] | null = null;
  let line = 0;
  const reader = new CsvReader((fields) => {
    line++;
    if (header === null) {
      header = COLUMNS.map((name) => {
        const at = fields.indexOf(name);
        if (at < 0) throw new InputError(`online-retail: header lacks column ${name}`);
        return at;
      });
      return;
    }
    const [invoiceAt, stockAt, descriptionAt, quantityAt, dateAt, customerAt] = header as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const stockCode = fields[stockAt] ?? '';
    const description = (fields[descriptionAt] ?? '').trim();
    if (description !== '' && !descriptions.has(stockCode)) descriptions.set(stockCode, description);
    const customer = (fields[customerAt] ?? '').trim();
    if (customer === '') return;
    if ((fields[invoiceAt] ?? '').startsWith('C')) return;
    const quantity = Number(fields[quantityAt]);
    if (!(quantity > 0)) return;
    if (!FIVE_DIGITS.test(stockCode)) return;
    const timestamp = parseDateTimeUtc(fields[dateAt] ?? '');
    if (Number.isNaN(timestamp)) {
      throw new InputError(`online-retail record ${line}: bad InvoiceDate ${JSON.stringify(fields[dateAt])}`);
    }
    userCol.push(users.indexOf(normalizeCustomerId(customer)));
    itemCol.push(items.indexOf(stockCode));
    timeCol.push(timestamp);
    valueCol.push(quantity);
  });
  for await (const chunk of chunks) reader.push(chunk);
  reader.end();
  if (header === null) throw new InputError('online-retail: empty file');
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

/** `17850.0` → `17850`; other spellings are kept as they are. */
export function normalizeCustomerId(raw: string): string {
  const m = /^(\d+)\.0*$/.exec(raw);
  return m ? m[1]! : raw;
}

/** `YYYY-MM-DD HH:MM:SS` → seconds since the epoch, read as UTC (as the importer reads it); NaN when malformed. */
export function parseDateTimeUtc(text: string): number {
  const ms = parseUtcDateTime(text);
  return ms === null ? Number.NaN : ms / 1000;
}
