"""Run every benchmark and print one table: `make bench` (or `python -m bench`)."""

import os
import platform
import sys

import django

BENCH_DATABASE = "postgres://postgres@127.0.0.1:5432/screening_bench"


def _use_postgres() -> None:
    """The queue benchmark needs PostgreSQL: use BENCH_DATABASE_URL, creating the database if needed."""
    url = os.environ.get("BENCH_DATABASE_URL", BENCH_DATABASE)
    os.environ["DATABASE_URL"] = url
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


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["DEBUG"] = "True"  # the benchmark server is local; the queue code is the same
    _use_postgres()
    django.setup()
    from bench import engine, queue

    rows = engine.run() + queue.run()
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}\n"
    )
    width = max(len(row[0]) for row in rows)
    print(f"{'benchmark'.ljust(width)}  {'figure':>16}  {'target':>14}  ok")
    print("-" * (width + 40))
    failed = False
    for name, figure, target, ok in rows:
        failed |= not ok
        print(f"{name.ljust(width)}  {figure:>16}  {target:>14}  {'yes' if ok else 'NO'}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
