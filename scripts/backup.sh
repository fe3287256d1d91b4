#!/usr/bin/env bash
# Back up the PostgreSQL database in DATABASE_URL with pg_dump (custom format, -Fc).
#
#   DATABASE_URL=postgres://... scripts/backup.sh                  -> backups/screening-YYYYmmdd-HHMMSS.dump
#   DATABASE_URL=postgres://... BACKUP_FILE=/path/x.dump scripts/backup.sh
#
# Never overwrites an existing file, and the file is readable by its owner only. The dump
# holds patients' health data: keep it encrypted and off the app server.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo_root/scripts/postgres_url.sh"
read_postgres_url backup

target=${BACKUP_FILE:-$repo_root/backups/screening-$(date +%Y%m%d-%H%M%S).dump}
if [[ -e $target ]]; then
  echo "backup: $target already exists; not overwriting it." >&2
  exit 1
fi
# Readable by its owner only (and so is a backups/ directory made here).
umask 077
mkdir -p "$(dirname "$target")"

# Written under a temporary name so a failed dump never looks like a finished backup
# (mktemp: a new owner-only file, never one that was already there).
partial=$(mktemp "$target.partial.XXXXXX")
trap 'rm -f "$partial"' EXIT
pg_dump --format=custom --file="$partial" --dbname="$PG_URI"
# ln, not mv: a hard link refuses an existing name in one step, so a file that appeared
# while pg_dump ran (another backup to the same name) is never replaced.
if ! ln -- "$partial" "$target"; then
  echo "backup: could not create $target (see above); not overwriting anything." >&2
  exit 1
fi
echo "Backup written to $target ($(du -h "$target" | cut -f1))."
