"""``python -m insightkit`` and the ``insightkit`` script: the CLI, entered without its libraries.

Loading pandas, pyarrow and DuckDB takes about half a second; Ctrl-C then ends the command as quietly
as it does later (one line, exit code 130), not with a traceback from inside an import.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as insightkit.cli returns it


def main() -> int:
    """Run the CLI (``insightkit.cli.main``), imported here so that Ctrl-C while it loads is handled."""
    try:
        from insightkit.cli import main as run_cli
    except KeyboardInterrupt:
        print("insightkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_cli()


if __name__ == "__main__":
    raise SystemExit(main())
