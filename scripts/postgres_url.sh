# Sourced by backup.sh and restore.sh: turns DATABASE_URL into a libpq connection.
#
# Sets PG_URI (a postgresql:// URI without the password) and exports PGPASSWORD, so the
# password never appears on a command line (where `ps` shows it to every user).

read_postgres_url() {
  local script=$1 url=${DATABASE_URL:-}
  if [[ -z $url ]]; then
    echo "$script: set DATABASE_URL to the PostgreSQL database, e.g. postgres://USER:PASSWORD@HOST:5432/NAME" >&2
    exit 2
  fi
  # The schemes dj-database-url reads as PostgreSQL.
  if [[ ! $url =~ ^(postgres|postgresql|pgsql|postgis)://(.*)$ ]]; then
    echo "$script: DATABASE_URL is not a PostgreSQL database (${url%%:*}); backups use pg_dump and need PostgreSQL." >&2
    exit 2
  fi
  local rest=${BASH_REMATCH[2]}
  if [[ $rest =~ ^([^@/]*):([^@/]*)@(.*)$ ]]; then
    local user=${BASH_REMATCH[1]} password=${BASH_REMATCH[2]} host_and_path=${BASH_REMATCH[3]}
    # Undo the URL's percent-encoding (%40 is @ and so on); a backslash stays a backslash.
    password=${password//\\/\\\\}
    printf -v PGPASSWORD '%b' "${password//%/\\x}"
    export PGPASSWORD
    rest="$user@$host_and_path"
  fi
  PG_URI="postgresql://$rest"
}
