#!/bin/sh
# kassenwart — the CLI of the Debian package.
# Runs the bundled Node.js with the package's program, reads /etc/kassenwart/kassenwart.env for what the
# caller has not set, and, when called as root, drops to the kassenwart user, so that files in the data
# folder keep their owner and the service can still read them.
set -eu
self=$(readlink -f "$0")
lib=$(dirname "$self")/../lib/kassenwart
envfile=${KASSENWART_ENV_FILE:-/etc/kassenwart/kassenwart.env}
if [ -r "$envfile" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}
    case "$key" in KASSENWART_[A-Z_]*) ;; *) continue ;; esac
    eval "cur=\${$key:-}"
    [ -n "$cur" ] || export "$key=${line#*=}"
  done < "$envfile"
fi
if [ "$(id -u)" = 0 ] && [ -z "${KASSENWART_AS_ROOT:-}" ] && id kassenwart >/dev/null 2>&1; then
  exec setpriv --reuid=kassenwart --regid=kassenwart --init-groups --inh-caps=-all -- "$lib/node/bin/node" "$lib/bin/kassenwart.js" "$@"
fi
exec "$lib/node/bin/node" "$lib/bin/kassenwart.js" "$@"
