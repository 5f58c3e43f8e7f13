import type { Logger } from 'kassenwart/sdk';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = keyof typeof LEVELS;

function threshold(): number {
  const l = (process.env.KASSENWART_LOG ?? 'info') as Level;
  return LEVELS[l] ?? LEVELS.info;
}

/** Field names whose values are never written to a log line. */
const SECRET_FIELD = /pass|secret|token|key|cookie|authorization/i;

function render(fields?: Record<string, unknown>): string {
  if (!fields) return '';
  const safe = Object.entries(fields).map(([k, v]) => `${k}=${SECRET_FIELD.test(k) ? '***' : JSON.stringify(v)}`);
  return safe.length ? ' ' + safe.join(' ') : '';
}

/**
 * syslog priorities (sd-daemon(3)): under systemd (JOURNAL_STREAM set: stderr is the journal) each line starts
 * with "<N>", so `journalctl -p warning` filters by level; the journal adds its own timestamp.
 */
const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3, silent: 7 };
const toJournal = (): boolean => Boolean(process.env.JOURNAL_STREAM);

/** A logger writing one line per entry to stderr: time, level, scope, message, fields (secrets masked). */
export function createLogger(scope: string, sink?: (level: Level, line: string) => void): Logger {
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}] ${message}${render(fields)}`;
    sink?.(level, line);
    if (LEVELS[level] >= threshold()) process.stderr.write(toJournal() ? `<${PRIORITY[level]}>${line}\n` : line + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
