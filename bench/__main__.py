"""Run every benchmark and print one table: `make bench` (or `python -m bench`)."""

import os
import platform
import sys

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()
    from bench import engine

    rows = engine.run()
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
