"""Run the benchmarks: ``python -m bench`` runs all of them, ``python -m bench ingest`` one.

Every module named in ``MODULES`` has a ``run()`` that returns one result dict
``{name, value, unit, baseline, ratio, target}`` (or a list of them), measured in a fresh
database of its own. Each result is printed as one JSON line as soon as its module finishes,
and all of them are written to ``bench/results.json``. Add a benchmark by writing
``bench/<name>.py`` and adding its name here.
"""

import importlib
import json
import os
import sys
from pathlib import Path

MODULES = [
    "ingest",
    "routing",
    "http_routing",
    "agreement",
    "alpha_coverage",
    "leaderboard_coverage",
    "crowds",
    "load",
]
RESULTS = Path(__file__).resolve().parent / "results.json"


def main(names: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from bench.common import BenchError, fresh_database

    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        print(f"Unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}.",
              file=sys.stderr)
        return 2
    results = []
    try:
        for name in names or MODULES:
            module = importlib.import_module(f"bench.{name}")
            with fresh_database(f"annomarket_bench_{name}"):
                outcome = module.run()
            for line in [outcome] if isinstance(outcome, dict) else outcome:
                print(json.dumps(line), flush=True)
                results.append(line)
    except BenchError as exc:
        print(exc, file=sys.stderr)
        return 1
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
