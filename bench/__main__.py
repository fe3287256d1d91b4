"""Run every benchmark and print one table: `make bench` (or `python -m bench`).

`python -m bench pages http` runs only the benchmarks named (engine, recognition, pages,
http), in that order; the page benchmark seeds the screenings the HTTP one reads too.
"""

import os
import platform
import signal
import sys

import django

BENCH_DATABASE = "postgres://postgres@127.0.0.1:5432/screening_bench"


def _use_postgres() -> None:
    """The queue and HTTP benchmarks need PostgreSQL: use BENCH_DATABASE_URL, creating the
    database if needed."""
    url = os.environ.get("BENCH_DATABASE_URL", BENCH_DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ["BENCH_DATABASE_URL"] = url
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    admin = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split(" ")[0]
    return (
        f"Machine: {os.cpu_count()} CPUs ({_cpu_model()}, {platform.machine()}), "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"Django {django.get_version()}, PostgreSQL {postgres}"
    )


RESULTS = {True: "PASS", False: "MISS", None: "-"}


def _print_table(rows, notes) -> None:
    header = ("benchmark", "figure", "target", "result")
    lines = [(name, figure, target, RESULTS.get(ok, ok)) for name, figure, target, ok in rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]
    print()
    for index, line in enumerate([header, *lines]):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print()
    for number, note in enumerate(notes, start=1):
        print(f"[{number}] {note}")


def _exit_on_sigterm(signum, frame):
    # Unwind like Ctrl-C, so the HTTP benchmark stops its gunicorn on the way out.
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["DEBUG"] = "True"  # in-process benchmarks; the HTTP one runs gunicorn with DEBUG off
    # Persistent connections, as production and the HTTP benchmark run: development's
    # default (0) would time a new PostgreSQL connection with every in-process request.
    os.environ["CONN_MAX_AGE"] = "600"
    _use_postgres()
    django.setup()
    from bench import engine, http, pages, recognition

    benchmarks = {"engine": engine, "recognition": recognition, "pages": pages, "http": http}
    chosen = sys.argv[1:] or list(benchmarks)
    unknown = set(chosen) - benchmarks.keys()
    if unknown:
        print(f"Unknown benchmarks {sorted(unknown)}; choose from {list(benchmarks)}.")
        return 2
    rows = []
    failure = None
    for name, module in benchmarks.items():
        if name not in chosen:
            continue
        try:
            rows += module.run()
        except http.BenchFailure as error:
            failure = error
            rows.append(
                (f"{name}: under gunicorn + wrk" if name == "http" else name, "failed", "-", "FAIL")
            )
    _print_table(rows, [_machine(), *(http.NOTES if "http" in chosen else [])])
    if failure is not None:
        print(f"\nBenchmark FAILED: {failure}", file=sys.stderr)
        return 2
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
