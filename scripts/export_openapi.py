"""Write src/api/openapi_spec.OPENAPI to openapi.json (or, with --check, compare them).

    scripts/export-openapi           # rewrite openapi.json
    scripts/export-openapi --check   # exit 1 when openapi.json differs from the module
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "openapi.json"


def rendered() -> str:
    """The committed form: two-space indented, keys in document order, trailing newline."""
    sys.path.insert(0, str(ROOT / "src"))
    from api.openapi_spec import OPENAPI

    return json.dumps(OPENAPI, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.name} differs from src/api/openapi_spec.py: run scripts/export-openapi", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
