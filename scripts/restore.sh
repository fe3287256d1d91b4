#!/usr/bin/env bash
# Restore a pg_dump custom-format backup into the PostgreSQL database in DATABASE_URL.
#
#   DATABASE_URL=postgres://... BACKUP_FILE=backups/screening-....dump scripts/restore.sh
#
# The database's tables are replaced by the backup's (--clean --if-exists); objects are
# owned by the user in DATABASE_URL (--no-owner). It all happens in one transaction, so
# a failed restore leaves the database as it was.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo_root/scripts/postgres_url.sh"
read_postgres_url restore

backup_file=${BACKUP_FILE:-}
if [[ -z $backup_file ]]; then
  echo "restore: set BACKUP_FILE to the backup to restore, e.g. make restore BACKUP_FILE=backups/screening-20250101-020000.dump" >&2
  exit 2
fi
if [[ ! -r $backup_file ]]; then
  echo "restore: cannot read $backup_file" >&2
  exit 2
fi

echo "Restoring $backup_file into ${PG_URI#*@} (its current contents are replaced)."
pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$PG_URI" "$backup_file"
echo "Restore finished. Check it with: python manage.py verify_audit"
