#!/bin/sh
# Starts rdtm as the unprivileged "node" user, first giving it the uid/gid in PUID/PGID so files in the
# mounted data, library and mount folders keep their owner. Started with --user, it runs as that user.
set -eu

if [ "$(id -u)" != "0" ]; then
  exec node /app/dist/cli.mjs "$@"
fi

PUID="${PUID:-1000}"
PGID="${PGID:-1000}"
case "$PUID$PGID" in
  *[!0-9]*) echo "docker-entrypoint: PUID and PGID must be numbers (got PUID=$PUID PGID=$PGID)" >&2; exit 64 ;;
esac
if [ "$PUID" = "0" ] || [ "$PGID" = "0" ]; then
  echo "docker-entrypoint: refusing to run as root (PUID/PGID 0); pick an unprivileged id" >&2
  exit 64
fi

[ "$(id -g node)" = "$PGID" ] || groupmod -o -g "$PGID" node
[ "$(id -u node)" = "$PUID" ] || usermod -o -u "$PUID" node
mkdir -p /app/data
chown node:node /app/data
[ -d /app/data/backups ] && chown -R node:node /app/data/backups

exec setpriv --reuid="$PUID" --regid="$PGID" --init-groups node /app/dist/cli.mjs "$@"
