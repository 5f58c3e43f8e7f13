/** Helpers for CLI commands (the host's and plugins'): German text for what a person reads. */

/**
 * node:util parseArgs explains wrong calls in English ("Unknown option '--x'"): the same in German, with the
 * option named. Anything unknown keeps a general German sentence (never the English text alone).
 */
export function germanArgsError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = String(err?.message ?? '');
  const opt = /'(-{1,2}[^' <]+)/.exec(msg)?.[1] ?? '';
  switch (err?.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Die Option „${opt}“ gibt es nicht.`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(msg) ? `Die Option „${opt}“ nimmt keinen Wert.` : `Die Option „${opt}“ braucht einen Wert.`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return 'Zu viele Angaben ohne Option.';
    default:
      return 'Die Angaben auf der Befehlszeile sind ungültig.';
  }
}
