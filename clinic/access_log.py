"""gunicorn's access log without secrets: no query string, cookie or other header, ever.

Invitation and password-reset links carry their tokens in the query string (never in the
path), and the review queue's search puts a patient's name there. This logger class gives
gunicorn's access-log format only the method, the path, the status and timings: whatever
`access_log_format` an operator writes, `%(r)s`, `%(q)s`, a Referer's query, a Cookie or a
Location header come out as "-" or without their query. `clinic.gunicorn_conf` selects it.
"""

from gunicorn.glogging import Logger

from screening.log_filters import without_query

# Request headers that may be logged: none of them carries a secret or a patient's data.
LOGGABLE_REQUEST_HEADERS = {"user-agent", "x-forwarded-for", "x-forwarded-proto", "x-request-id"}


class PathOnlyAccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        method = environ.get("REQUEST_METHOD", "-")
        protocol = environ.get("SERVER_PROTOCOL", "-")
        # RAW_URI is the target as the client sent it, query and all: use the path instead.
        atoms["r"] = f"{method} {environ.get('PATH_INFO', '')} {protocol}"
        atoms["q"] = "-"
        atoms["u"] = "-"  # a Basic-auth user name is nobody's business in this log
        atoms["f"] = without_query(atoms.get("f", "-"))
        for key in [key for key in atoms if key.startswith("{")]:
            name, kind = key[1:-2], key[-1]
            if kind == "i" and name in LOGGABLE_REQUEST_HEADERS:
                continue
            if kind == "i" and name == "referer":
                atoms[key] = without_query(atoms[key])
                continue
            # Cookies, Authorization, the environ (QUERY_STRING, RAW_URI) and response
            # headers (a redirect's Location can carry a search term) are never logged.
            del atoms[key]
        return atoms
