/**
 * UCI Online Retail (`online-retail-uci/online_retail.csv.gz`, see its SOURCE.md): one CSV row
 * per invoice line, columns InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
 * CustomerID, Country.
 *
 * Mapping (`shelf import events`):
 * - An invoice line → a `purchase` event: itemId = StockCode, quantity = Quantity,
 *   price = UnitPrice (per unit, GBP), timestamp = InvoiceDate read as UTC.
 * - eventId = `<InvoiceNo>:<StockCode>:<n>` where n counts the rows of that StockCode in that
 *   invoice (1, 2, …), so the same file always yields the same ids and re-import stores nothing.
 * - userId = CustomerID without its `.0`. Rows without a CustomerID are kept as anonymous events
 *   with sessionId `invoice-<InvoiceNo>`, which keeps their basket co-occurrence (`anonymous`).
 * - Cancellations (InvoiceNo `C…`) → `return` events with |Quantity| (`returns`).
 * - Lines with Quantity ≤ 0 that are not cancellations are stock adjustments (damaged, lost,
 *   found; no customer, price 0): skipped and counted by reason.
 * - A StockCode that does not start with five digits (POST, DOT, M, C2, BANK CHARGES, AMAZONFEE,
 *   gift_0001_*, DCGS*, …) is not a product: its events are stored (they are real invoice lines)
 *   and flagged `nonProduct`, and its item gets `status: 'delisted'` and `attributes.nonProduct`
 *   so serving never recommends it.
 * - Items are upserted while importing events: title = the first non-empty Description of the
 *   StockCode among imported rows (trimmed; the StockCode itself until one is seen),
 *   publishedAt = the first InvoiceDate of the StockCode, price = its first positive UnitPrice
 *   (GBP; unit prices vary per invoice line, and without one a price filter kept every item
 *   out). No category. A catalogue imported or sent with its own prices keeps them.
 *
 * `shelf import items` emits only those items; `shelf import users` emits one user per
 * CustomerID (createdAt = first InvoiceDate, attributes.country = its first Country).
 */
import { InputError } from '../../errors.ts';
import type { FieldError } from '../../errors.ts';
import type { Item, ShelfEvent } from '../types.ts';
import { validateEvent, validateItem } from '../validate.ts';
import type { EventLimits } from '../validate.ts';
import { splitCsvFields } from './csv-fields.ts';
import type { ImportKind, ImportSink, RecordMapper } from './types.ts';

export const ONLINE_RETAIL_COLUMNS = [
  'InvoiceNo',
  'StockCode',
  'Description',
  'Quantity',
  'InvoiceDate',
  'UnitPrice',
  'CustomerID',
  'Country',
] as const;

/** Event field → the source column named in error reports. */
const SOURCE_COLUMN: Record<string, string> = {
  eventId: 'InvoiceNo',
  itemId: 'StockCode',
  quantity: 'Quantity',
  timestamp: 'InvoiceDate',
  price: 'UnitPrice',
  userId: 'CustomerID',
  sessionId: 'InvoiceNo',
};

/** Invoices are contiguous in the file but one (542806) comes back a few lines later: keep a window. */
const RECENT_INVOICES = 64;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const PRODUCT_RE = /^\d{5}/;
const SKIP_ADJUSTMENT = 'quantity ≤ 0 outside a cancellation (stock adjustment)';
const SKIP_NO_CUSTOMER = 'no CustomerID (users only)';

/** True when a CSV header line is the Online Retail one (used to recognise the file). */
export function isOnlineRetailHeader(fields: readonly string[]): boolean {
  const names = fields.map((f) => f.trim());
  return ONLINE_RETAIL_COLUMNS.slice(0, 7).every((c) => names.includes(c));
}

/** `YYYY-MM-DD HH:MM[:SS]` as UTC epoch ms; null when malformed or not a real date. */
export function parseUtcDateTime(s: string): number | null {
  const m = DATE_RE.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as number[];
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, se!);
  const t = new Date(ms);
  if (t.getUTCMonth() !== mo! - 1 || t.getUTCDate() !== d! || h! > 23 || mi! > 59 || se! > 59) return null;
  return ms;
}

/** One parsed invoice line: the columns read once, for the importer and the evaluation loader alike. */
export interface OnlineRetailRow {
  invoice: string;
  stockCode: string;
  /** Trimmed; '' when the row has none. */
  description: string;
  /** May be ≤ 0 (cancellations, stock adjustments). */
  quantity: number;
  /** InvoiceDate read as UTC, epoch ms. */
  timestamp: number;
  unitPrice: number;
  /** CustomerID without its `.0`; '' when the row has none. */
  customerId: string;
  /** '' when the file has no Country column or the cell is empty. */
  country: string;
  /** InvoiceNo starts with `C`. */
  cancelled: boolean;
  /** StockCode starts with five digits (POST, DOT, M, BANK CHARGES, … are not products). */
  product: boolean;
}

/** `17850.0` → `17850`; other spellings are kept as they are. */
export function normalizeCustomerId(raw: string): string {
  return raw.endsWith('.0') ? raw.replace(/\.0+$/, '') : raw;
}

/**
 * The one parser of Online Retail rows: finds the columns by header name, then turns each
 * record's fields into an {@link OnlineRetailRow} or reports its bad fields.
 */
export class OnlineRetailRows {
  /** Header columns that are not Online Retail ones. */
  readonly ignoredColumns: string[] = [];
  private readonly idx: number[];
  private readonly width: number;
  private lastDateText = '';
  private lastDate: number | null = null;

  /** Throws `InputError` when the header lacks one of the seven required columns. */
  constructor(header: readonly string[], line: number) {
    const names = header.map((f) => f.trim());
    const missing = ONLINE_RETAIL_COLUMNS.slice(0, 7).filter((c) => !names.includes(c));
    if (missing.length) {
      throw new InputError(
        `line ${line}: not an Online Retail file, missing column(s) ${missing.join(', ')}`,
      );
    }
    this.idx = ONLINE_RETAIL_COLUMNS.map((c) => names.indexOf(c));
    this.width = names.length;
    for (const n of names)
      if (!(ONLINE_RETAIL_COLUMNS as readonly string[]).includes(n)) this.ignoredColumns.push(n);
  }

  /**
   * Reads one record's fields. Problems are appended to `errors` (the row's other values are
   * still read, so a caller may count the row); null when the field count is wrong.
   */
  parse(f: readonly string[], errors: FieldError[]): OnlineRetailRow | null {
    if (f.length !== this.width) {
      errors.push({ field: '(record)', reason: `has ${f.length} fields but the header has ${this.width}` });
      return null;
    }
    const [iInv, iCode, iDesc, iQty, iDate, iPrice, iCust, iCountry] = this.idx as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const invoice = f[iInv]!.trim();
    const stockCode = f[iCode]!.trim();
    if (!invoice) errors.push({ field: 'InvoiceNo', reason: 'is required' });
    if (!stockCode) errors.push({ field: 'StockCode', reason: 'is required' });
    const qtyText = f[iQty]!.trim();
    const quantity = /^[+-]?\d+$/.test(qtyText) ? Number(qtyText) : NaN;
    if (Number.isNaN(quantity))
      errors.push({ field: 'Quantity', reason: `must be a whole number, got ${JSON.stringify(qtyText)}` });
    const dateText = f[iDate]!;
    // Rows of one invoice share their date: parse each distinct string once.
    if (dateText !== this.lastDateText) {
      this.lastDateText = dateText;
      this.lastDate = parseUtcDateTime(dateText);
    }
    const timestamp = this.lastDate;
    if (timestamp === null) {
      errors.push({
        field: 'InvoiceDate',
        reason: `must be YYYY-MM-DD HH:MM:SS, got ${JSON.stringify(dateText)}`,
      });
    }
    const priceText = f[iPrice]!.trim();
    const unitPrice = priceText === '' ? NaN : Number(priceText);
    if (!Number.isFinite(unitPrice))
      errors.push({ field: 'UnitPrice', reason: `must be a number, got ${JSON.stringify(priceText)}` });
    return {
      invoice,
      stockCode,
      description: f[iDesc]!.trim(),
      quantity,
      timestamp: timestamp ?? NaN,
      unitPrice,
      customerId: normalizeCustomerId(f[iCust]!.trim()),
      country: iCountry >= 0 ? f[iCountry]!.trim() : '',
      cancelled: invoice.charCodeAt(0) === 67, // 'C'
      product: PRODUCT_RE.test(stockCode),
    };
  }
}

export class OnlineRetailMapper implements RecordMapper {
  readonly format = 'online-retail' as const;
  readonly quoted = true;
  readonly ignoredColumns: string[] = [];
  private rows: OnlineRetailRows | null = null;
  /** StockCode → first InvoiceDate, and the title ('' until a row has one) and price written. */
  private readonly items = new Map<
    string,
    { publishedAt: number; title: string; titlePriced: boolean; price?: number }
  >();
  private readonly users = new Set<string>();
  /** InvoiceNo → StockCode → rows so far, for the last RECENT_INVOICES invoices. */
  private readonly occurrences = new Map<string, Map<string, number>>();
  /** The invoice of the previous row and its counts (rows of an invoice are adjacent). */
  private currentInvoice = '';
  private currentCodes: Map<string, number> | undefined;

  constructor(
    private readonly kind: ImportKind,
    /** The latest event time accepted (the clock plus the allowed skew). */
    private readonly limits: EventLimits = {},
  ) {}

  header(text: string, line: number): void {
    this.rows = new OnlineRetailRows(splitCsvFields(text) ?? [], line);
    this.ignoredColumns.push(...this.rows.ignoredColumns);
  }

  record(text: string, line: number, sink: ImportSink): void {
    const f = splitCsvFields(text);
    if (!f) {
      sink.reject(line, [{ field: '(record)', reason: 'has an unterminated quoted field' }]);
      return;
    }
    const errors: FieldError[] = [];
    const row = this.rows!.parse(f, errors);
    if (row === null) {
      sink.reject(line, errors);
      return;
    }
    const { invoice, stockCode: code, quantity: qty, timestamp, unitPrice: price, cancelled } = row;
    const n = invoice && code ? this.occurrence(invoice, code) : 0;
    if (errors.length) {
      sink.reject(line, errors);
      return;
    }
    if (!cancelled && qty <= 0) {
      sink.skip(SKIP_ADJUSTMENT);
      return;
    }
    const customer = row.customerId;
    const raw: Partial<ShelfEvent> = {
      eventId: `${invoice}:${code}:${n}`,
      type: cancelled ? 'return' : 'purchase',
      itemId: code,
      quantity: Math.abs(qty),
      price,
      timestamp,
    };
    if (customer) raw.userId = customer;
    else raw.sessionId = `invoice-${invoice}`;
    const v = validateEvent(raw, this.limits);
    if (!v.ok) {
      sink.reject(
        line,
        v.errors.map((e) => ({ field: SOURCE_COLUMN[e.field] ?? e.field, reason: e.reason })),
      );
      return;
    }
    const nonProduct = !row.product;
    if (this.kind === 'users') {
      if (!customer) sink.skip(SKIP_NO_CUSTOMER);
      else if (!this.users.has(customer)) {
        this.users.add(customer);
        const country = row.country;
        sink.user({
          userId: customer,
          createdAt: timestamp,
          attributes: country ? { country } : {},
          consent: { personalization: true },
        });
      }
      return;
    }
    if (!this.item(code, row.description, row.unitPrice, timestamp, nonProduct, line, sink)) return;
    if (this.kind !== 'events') return;
    sink.event(v.value, line);
    if (nonProduct) sink.flag('nonProduct');
    if (cancelled) sink.count('returns');
    if (!customer) sink.count('anonymous');
  }

  private occurrence(invoice: string, code: string): number {
    let codes = invoice === this.currentInvoice ? this.currentCodes : this.occurrences.get(invoice);
    if (!codes) {
      if (this.occurrences.size >= RECENT_INVOICES) {
        this.occurrences.delete(this.occurrences.keys().next().value!);
      }
      codes = new Map();
      this.occurrences.set(invoice, codes);
    }
    this.currentInvoice = invoice;
    this.currentCodes = codes;
    const n = (codes.get(code) ?? 0) + 1;
    codes.set(code, n);
    return n;
  }

  /**
   * Emits the item when first seen, and again when it gets its first real title (a priced row's) or first price;
   * false when it is invalid.
   */
  private item(
    code: string,
    description: string,
    unitPrice: number,
    at: number,
    nonProduct: boolean,
    line: number,
    sink: ImportSink,
  ): boolean {
    const known = this.items.get(code);
    // A row without a price (a stock adjustment, a free line) names an item only until a priced
    // row does: the real file's first rows of four best sellers say "mailout" at 0.00, and every
    // later one the product's name.
    const priced = unitPrice > 0;
    const renamed = description !== '' && (!known?.title || (priced && !known.titlePriced));
    const title = renamed ? description : (known?.title ?? '');
    const titlePriced = renamed ? priced : (known?.titlePriced ?? false);
    const price = known?.price ?? (priced ? unitPrice : undefined);
    if (known && title === known.title && price === known.price) return true;
    const publishedAt = known ? known.publishedAt : at;
    const raw: Item = {
      itemId: code,
      title: title || code,
      categories: [],
      status: nonProduct ? 'delisted' : 'active',
      publishedAt,
      repurchasable: false,
      attributes: nonProduct ? { nonProduct: true } : {},
      ...(price !== undefined ? { price, currency: 'GBP' } : {}),
    };
    const v = validateItem(raw, at);
    if (v.ok) {
      this.items.set(code, { publishedAt, title, titlePriced, ...(price !== undefined ? { price } : {}) });
      if (!known) {
        sink.count('items');
        if (nonProduct) sink.count('nonProductItems');
      }
      // What the rows say of an item fills a catalogue, never overwrites one (stock, status, …).
      sink.item(v.value, { implied: true });
      return true;
    }
    sink.reject(
      line,
      v.errors.map((e) => ({ field: e.field === 'title' ? 'Description' : e.field, reason: e.reason })),
    );
    return false;
  }
}
