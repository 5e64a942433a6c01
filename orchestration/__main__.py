"""Command line: `python -m orchestration run` runs the nightly job once, in process.

Used by `make run`; the Dagster UI (`make ui`) runs the same job from the same definitions.
"""

from __future__ import annotations

import argparse
import logging
import sys

from orchestration.alignment import AlignmentError, load_alignment
from orchestration.settings import Settings


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        load_alignment(settings.alignment_path)  # fail before any data moves
    except (AlignmentError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from orchestration.pipeline import run_nightly, summarize

    print(f"Closed Loop nightly run: source={settings.source}, warehouse={settings.warehouse_dir}")
    result = run_nightly(settings, full_refresh=args.full_refresh, accept_volume_change=args.accept_volume_change)
    print(summarize(settings, result))
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the nightly job once (extract, dbt build, gate, publish)")
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from all raw data")
    run.add_argument("--accept-volume-change", action="store_true",
                     help="publish even if a table's row count changed beyond the volume check's ratio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("closedloop").setLevel(logging.INFO)  # our progress lines; libraries stay quiet
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
