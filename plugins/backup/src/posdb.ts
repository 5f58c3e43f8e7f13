/**
 * Demo POS database for a hair salon, and a generator for larger ones (tests, benchmarks).
 *
 * Deterministic: the same options give the same rows (seeded PRNG, fixed start date). Written with native
 * SQLite (better-sqlite3) straight to a temporary file beside the target (memory stays flat whatever the size),
 * then fsync + rename: a crash never leaves a half-written database under the final name.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { fsyncDir } from 'kassenwart/sdk';
import { TMP_PREFIX } from './store.js';

/** Options of {@link generatePosDatabase}. */
export interface GenerateOptions {
  /** approximate target size of the database file in MB (default 12). */
  sizeMb?: number;
  /** PRNG seed (default 17). */
  seed?: number;
  /** First business day (default 2022-01-03). */
  startDate?: string;
  /** Called now and then with the bytes written so far. */
  onProgress?: (bytes: number, target: number) => void;
}

/** What was generated. */
export interface GenerateResult {
  path: string;
  bytes: number;
  counts: Record<string, number>;
}

/** The tables a salon POS database has (and that every backup verification counts). */
export const POS_TABLES = ['employees', 'customers', 'services', 'appointments', 'receipts', 'receipt_items'] as const;

const SCHEMA = `
PRAGMA page_size = 4096;
CREATE TABLE pos_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE employees (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, phone TEXT, email TEXT,
  birthday TEXT, notes TEXT, created_at TEXT NOT NULL);
CREATE TABLE services (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, duration_min INTEGER NOT NULL,
  price_cents INTEGER NOT NULL, vat_rate INTEGER NOT NULL);
CREATE TABLE appointments (
  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  employee_id INTEGER NOT NULL REFERENCES employees(id), service_id INTEGER NOT NULL REFERENCES services(id),
  starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, status TEXT NOT NULL, note TEXT);
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
  employee_id INTEGER NOT NULL REFERENCES employees(id), customer_id INTEGER REFERENCES customers(id),
  total_cents INTEGER NOT NULL, vat_cents INTEGER NOT NULL, payment_method TEXT NOT NULL,
  tse_serial TEXT NOT NULL, tse_transaction_number INTEGER NOT NULL, tse_signature_counter INTEGER NOT NULL,
  tse_start_time TEXT NOT NULL, tse_end_time TEXT NOT NULL, tse_signature TEXT NOT NULL, tse_process_data TEXT NOT NULL);
CREATE TABLE receipt_items (
  id INTEGER PRIMARY KEY, receipt_id INTEGER NOT NULL REFERENCES receipts(id),
  service_id INTEGER REFERENCES services(id), description TEXT NOT NULL, quantity INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL, vat_rate INTEGER NOT NULL, total_cents INTEGER NOT NULL);
CREATE INDEX appointments_starts ON appointments(starts_at);
CREATE INDEX receipts_created ON receipts(created_at);
CREATE INDEX receipt_items_receipt ON receipt_items(receipt_id);
`;

const FIRST = ['Anna', 'Julia', 'Lena', 'Marie', 'Sophie', 'Laura', 'Lea', 'Sarah', 'Hannah', 'Lisa', 'Katharina',
  'Emma', 'Mia', 'Nina', 'Petra', 'Sabine', 'Monika', 'Claudia', 'Thomas', 'Michael', 'Stefan', 'Andreas', 'Jan',
  'Lukas', 'Felix', 'Jonas', 'Paul', 'Max', 'Tim', 'Markus', 'Ayşe', 'Zeynep', 'Jürgen', 'Günther', 'Björn'];
const LAST = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann',
  'Schäfer', 'Koch', 'Bauer', 'Richter', 'Klein', 'Wolf', 'Schröder', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun',
  'Krüger', 'Hofmann', 'Hartmann', 'Lange', 'Schmitt', 'Werner', 'Krause', 'Meier', 'Lehmann', 'Yılmaz', 'Kaya'];
const SERVICES: Array<[string, string, number, number]> = [
  ['Waschen, Schneiden, Föhnen (Damen)', 'Damen', 60, 5400], ['Schneiden, Föhnen (Damen, kurz)', 'Damen', 45, 4200],
  ['Waschen, Schneiden (Herren)', 'Herren', 30, 2900], ['Maschinenschnitt', 'Herren', 20, 1800],
  ['Bartpflege', 'Herren', 20, 1500], ['Kinderhaarschnitt', 'Kinder', 20, 1600], ['Färben Ansatz', 'Farbe', 60, 4900],
  ['Färben komplett', 'Farbe', 90, 7900], ['Strähnen Folie', 'Farbe', 120, 9900], ['Balayage', 'Farbe', 150, 14900],
  ['Dauerwelle', 'Form', 120, 8900], ['Hochsteckfrisur', 'Styling', 60, 6500], ['Brautfrisur', 'Styling', 120, 14900],
  ['Föhnen', 'Styling', 30, 2500], ['Kopfmassage', 'Pflege', 15, 1200], ['Pflegekur', 'Pflege', 15, 1400],
  ['Augenbrauen zupfen', 'Kosmetik', 15, 1100], ['Wimpern färben', 'Kosmetik', 15, 1300],
];
const PRODUCTS: Array<[string, number]> = [
  ['Shampoo Feuchtigkeit 250 ml', 1690], ['Conditioner Repair 200 ml', 1890], ['Haarspray stark 300 ml', 1290],
  ['Stylingwachs 75 ml', 1490], ['Haaröl 100 ml', 2490], ['Gutschein', 2500],
];
const EMPLOYEES: Array<[string, string]> = [
  ['Sandra Keller', 'Inhaberin'], ['Melanie Vogt', 'Friseurmeisterin'], ['Dennis Brandt', 'Friseur'],
  ['Aylin Demir', 'Friseurin'], ['Jana Roth', 'Auszubildende'], ['Kevin Peters', 'Friseur'],
];
const PAYMENTS = ['Bar', 'Bar', 'Bar', 'EC-Karte', 'EC-Karte', 'Kreditkarte', 'Gutschein'];
const NOTES = ['', '', '', 'Allergie gegen PPD', 'Mag es kurz', 'Kommt immer mit Tochter', 'Kopfhaut empfindlich',
  'Bevorzugt Termin am Vormittag', 'Stammkundin seit 2010', 'Nur Bar'];

/** mulberry32: small, fast, deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Creates a salon POS database at `path` (replacing any file there, atomically): employees, services,
 * customers, appointments and receipts with line items and TSE fields over several years.
 */
export async function generatePosDatabase(path: string, options: GenerateOptions = {}): Promise<GenerateResult> {
  const targetBytes = Math.max(1, options.sizeMb ?? 12) * 1024 * 1024;
  const rnd = prng(options.seed ?? 17);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const b64 = (n: number) => { let s = ''; for (let i = 0; i < n; i++) s += B64[Math.floor(rnd() * 64)]; return s; };

  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `${TMP_PREFIX}${basename(path)}.gen.${process.pid}.${randomBytes(4).toString('hex')}`);
  const db = new Database(tmp);
  try {
    // A private temporary file: no journal, no syncs while filling it; fsynced once at the end.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = OFF');
    db.exec(SCHEMA);
    db.exec('BEGIN');
    const meta = db.prepare('INSERT INTO pos_meta VALUES (?, ?)');
    meta.run('generator', 'kassenwart demo');
    meta.run('seed', String(options.seed ?? 17));
    meta.run('salon', 'Salon Haarmonie (Demo)');

    const emp = db.prepare('INSERT INTO employees (name, role, active) VALUES (?, ?, ?)');
    EMPLOYEES.forEach(([n, r], i) => emp.run(n, r, i === 5 ? 0 : 1));
    const svc = db.prepare('INSERT INTO services (name, category, duration_min, price_cents, vat_rate) VALUES (?, ?, ?, ?, 19)');
    for (const s of SERVICES) svc.run(...s);

    // Receipts per business day scale with the target so that large databases still span a few years.
    const perDay = Math.max(25, Math.round(targetBytes / (4 * 300 * 700)));
    const customerCount = Math.max(800, Math.round(perDay * 60));
    const cust = db.prepare('INSERT INTO customers (first_name, last_name, phone, email, birthday, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < customerCount; i++) {
      const f = pick(FIRST), l = pick(LAST);
      cust.run(f, l, `0${int(151, 179)} ${int(1000000, 9999999)}`,
        rnd() < 0.6 ? `${f}.${l}${int(1, 99)}@example.de`.toLowerCase() : null,
        `${int(1940, 2012)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`,
        pick(NOTES), '2021-12-01 09:00:00');
    }

    const appt = db.prepare('INSERT INTO appointments (customer_id, employee_id, service_id, starts_at, ends_at, status, note) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const rec = db.prepare(`INSERT INTO receipts (number, created_at, employee_id, customer_id, total_cents, vat_cents,
      payment_method, tse_serial, tse_transaction_number, tse_signature_counter, tse_start_time, tse_end_time,
      tse_signature, tse_process_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const item = db.prepare('INSERT INTO receipt_items (receipt_id, service_id, description, quantity, unit_price_cents, vat_rate, total_cents) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const tseSerial = 'a3f1' + b64(60).replace(/[^a-f0-9]/gi, '0').toLowerCase().slice(0, 60);
    const pageSize = 4096;
    const pageCount = () => Number(db.pragma('page_count', { simple: true }));

    const day = new Date((options.startDate ?? '2022-01-03') + 'T00:00:00Z');
    let receiptNo = 0;
    let tseTx = 100000;
    let sig = 500000;
    const p2 = (n: number) => String(n).padStart(2, '0');
    const stamp = (d: Date, h: number, m: number, s = 0) =>
      `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(h)}:${p2(m)}:${p2(s)}`;
    for (let d = 0; ; d++) {
      if (day.getUTCDay() !== 0 && day.getUTCDay() !== 1) { // salons close Sunday and Monday
        const n = Math.round(perDay * (0.7 + rnd() * 0.6));
        for (let i = 0; i < n; i++) {
          const h = int(8, 18), m = int(0, 59);
          const customerId = rnd() < 0.85 ? int(1, customerCount) : null;
          const employeeId = int(1, 5);
          const svcId = int(1, SERVICES.length);
          const [, , dur, price] = SERVICES[svcId - 1];
          if (customerId !== null) {
            appt.run(customerId, employeeId, svcId, stamp(day, h, m), stamp(day, Math.min(20, h + Math.ceil(dur / 60)), m),
              rnd() < 0.93 ? 'erschienen' : 'abgesagt', rnd() < 0.2 ? pick(NOTES) || null : null);
          }
          receiptNo++;
          const lines: Array<[number | null, string, number, number]> = [[svcId, SERVICES[svcId - 1][0], 1, price]];
          if (rnd() < 0.35) { const s2 = int(1, SERVICES.length); lines.push([s2, SERVICES[s2 - 1][0], 1, SERVICES[s2 - 1][3]]); }
          if (rnd() < 0.25) { const p = pick(PRODUCTS); lines.push([null, p[0], int(1, 2), p[1]]); }
          const total = lines.reduce((a, [, , q, u]) => a + q * u, 0);
          const created = stamp(day, h, m, int(0, 59));
          rec.run(`${day.getUTCFullYear()}-${String(receiptNo).padStart(7, '0')}`, created, employeeId, customerId, total,
            Math.round((total * 19) / 119), pick(PAYMENTS), tseSerial, tseTx++, sig += int(2, 4), created + '.120', created + '.870',
            b64(88) + '==', `Beleg^${(total / 100).toFixed(2)}_0.00_0.00_0.00_0.00^${(total / 100).toFixed(2)}:Bar`);
          const rid = receiptNo;
          for (const [sid, desc, q, u] of lines) item.run(rid, sid, desc, q, u, 19, q * u);
        }
      }
      day.setUTCDate(day.getUTCDate() + 1);
      if (d % 20 === 0) {
        const bytes = pageCount() * pageSize;
        options.onProgress?.(bytes, targetBytes);
        if (bytes >= targetBytes) break;
        await new Promise((res) => setImmediate(res)); // a large database takes a while: let the event loop breathe
      }
    }
    db.exec('COMMIT');
    db.pragma('journal_mode = DELETE');
    const counts: Record<string, number> = {};
    for (const t of POS_TABLES) counts[t] = Number(db.prepare(`SELECT count(*) FROM ${t}`).pluck().get());
    db.close();
    const fh = await open(tmp, 'r+');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, path);
    await fsyncDir(dirname(path));
    return { path, bytes: (await stat(path)).size, counts };
  } catch (e) {
    if (db.open) db.close();
    await rm(tmp, { force: true });
    throw e;
  }
}
