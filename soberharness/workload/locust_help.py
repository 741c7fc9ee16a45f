"""`--help` for a locust file, with the file's own options.

locust (2.x) answers `locust -f FILE --help` before it imports FILE, so the options FILE adds
with `@events.init_command_line_parser` never show there. This imports the file the way
locust does and prints locust's help with them:

    .venv/bin/python -m soberharness.workload.locust_help loadtests/realtime.py

Run it as its own process (importing locust monkey-patches the interpreter with gevent).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from soberharness.errors import Exit


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m soberharness.workload.locust_help LOCUSTFILE", file=sys.stderr)
        return Exit.BAD_INPUT
    path = Path(args[0])
    if not path.is_file():
        print(f"locust_help: no locust file at {path}", file=sys.stderr)
        return Exit.BAD_INPUT
    import locust.argument_parser  # first: locust patches the interpreter with gevent

    sys.path.insert(0, str(path.resolve().parent))
    runpy.run_path(str(path), run_name="locustfile")  # registers the file's listeners
    parser = locust.argument_parser.get_parser()
    parser.prog = f"locust -f {path}"
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
