#!/usr/bin/env bash
# `make run`: the development web server and, next to it, the task worker that sends every
# email (manage.py db_worker). One command; Ctrl-C stops both, and so does the web server
# stopping on its own. Production runs the worker as its own process (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=.venv/bin/python
ADDRESS="${RUN_ADDRESS:-127.0.0.1:8000}"
# Links in emails point at this server.
export SITE_URL="${SITE_URL:-http://$ADDRESS}"

# No --reload: the reloader runs the worker in a child process that a stop signal to the
# parent would leave behind. Restart `make run` after changing screening/tasks.py.
"$PYTHON" manage.py db_worker --no-reload --no-startup-delay &
worker=$!

stop_worker() {
  kill -TERM "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
}
trap stop_worker EXIT
# Ctrl-C reaches the web server (in the foreground) and the worker; once the server has
# stopped, leave, which runs stop_worker for a worker that is still busy with a task.
trap 'exit 130' INT
trap 'exit 143' TERM

"$PYTHON" manage.py runserver "$ADDRESS"
