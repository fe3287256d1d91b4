"""gunicorn settings for production: `gunicorn -c python:clinic.gunicorn_conf clinic.wsgi`.

The access log goes to standard output, one line per request: client address, time,
method and path (never the query string), status, bytes and seconds taken. Links carry
their tokens in the query string, so a log line can never hold one; the logger class
enforces that whatever format is set here or on the command line.
"""

accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s'
logger_class = "clinic.access_log.PathOnlyAccessLogger"
