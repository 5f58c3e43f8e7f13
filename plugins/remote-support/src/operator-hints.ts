/**
 * Hints for the person who reads them. Most RustDesk problems are fixed by a technician (install RustDesk, set
 * its path, raise a time limit in Einstellungen) — places an operator cannot edit. So an operator gets what
 * they can do: restart, or call the technician and read out the message. Technicians keep the original hint.
 */
import type { RemoteSupportStatus, Problem } from './status.js';

/** What an operator can do about a problem with this code. */
function operatorHint(code: string, contact: string): string {
  const call = `Bitte den Techniker anrufen${contact ? ` (${contact})` : ''}`;
  switch (code) {
    case 'rustdesk.missing':
    case 'rustdesk.start':
    case 'rustdesk.output':
    case 'rustdesk.empty':
      return `${call}: RustDesk muss auf dem Kassenserver installiert oder sein Pfad eingetragen werden.`;
    case 'rustdesk.timeout':
    case 'rustdesk.failed':
    case 'rustdesk.service':
      return `Bitte den Kassenserver neu starten und danach „Aktualisieren“ drücken. Hilft das nicht: ${call.charAt(0).toLowerCase()}${call.slice(1)}.`;
    default:
      return `${call} und ihm diese Meldung nennen.`;
  }
}

function rewrite(p: Problem | undefined, contact: string): Problem | undefined {
  return p && p.hint ? { ...p, hint: operatorHint(p.code, contact) } : p;
}

/** The status as an operator should read it (hints rewritten; nothing else changes). */
export function forOperator(s: RemoteSupportStatus): RemoteSupportStatus {
  const c = s.installation.supportContact;
  return {
    ...s,
    rustdesk: { ...s.rustdesk, problem: rewrite(s.rustdesk.problem, c) },
    version: { ...s.version, problem: rewrite(s.version.problem, c) },
    service: { ...s.service, problem: rewrite(s.service.problem, c) },
    id: { ...s.id, problem: rewrite(s.id.problem, c) },
  };
}
