"""The ``insightkit`` command: one function per subcommand, registered in ``COMMANDS``.

Adding a subcommand = one ``@command`` function that receives parsed ``args`` and returns an exit code,
plus an ``add_arguments`` helper. Output: human tables (stdout), ``--json`` for scripts; errors are
one line on stderr.

Exit codes: 0 success, 1 bad input or failed snapshot (an InsightkitError or an OS error, message on
one line), 2 usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from insightkit import __version__
from insightkit._text import render_table
from insightkit.errors import InsightkitError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REDACT_KEY_ENV = "INSIGHTKIT_REDACT_KEY"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register ``run(args) -> exit code`` as subcommand ``name``."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = Command(name, help, add_arguments, run)
        return run

    return register


# --- shared helpers -------------------------------------------------------------------------------


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def _progress_wanted(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: not with --quiet, --json or a redirected stderr."""
    return not (getattr(args, "quiet", False) or getattr(args, "json", False)) and sys.stderr.isatty()


def _open(args: argparse.Namespace, source: str) -> Any:
    """An Analysis of any source the API accepts (live URL, .rdb, RSNAP)."""
    from insightkit.analysis import analyze

    return analyze(source, progress=_progress_wanted(args), **_connection_options(args))


def _connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options the user gave, so that file sources get none."""
    options: dict[str, Any] = {}
    if getattr(args, "password", None):
        options["password"] = args.password
    if getattr(args, "method", "auto") != "auto":
        options["method"] = args.method
    return options


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame → JSON-safe records (NA → null, numpy → Python)."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", force_ascii=False))
    return records


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _add_source(parser: argparse.ArgumentParser, name: str = "source") -> None:
    parser.add_argument(
        name, help="redis://[user:password@]host:port/db, host:port, an .rdb file, or an RSNAP"
    )
    _add_connection_options(parser)


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password", help="server password (instead of putting it in the URL)")
    parser.add_argument(
        "--method",
        choices=["auto", "sync", "dump"],
        default="auto",
        help="live servers: replica sync, SCAN+DUMP, or auto (sync, falling back to dump)",
    )


# --- analyze --------------------------------------------------------------------------------------


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    _add_source(parser)
    parser.add_argument("-o", "--output", help="write an RSNAP here (e.g. out.rsnap.parquet)")
    parser.add_argument(
        "--redact",
        action="store_true",
        help="hash the variable parts of key names in the RSNAP (random key unless --redact-key or "
        f"${REDACT_KEY_ENV} gives one)",
    )
    parser.add_argument(
        "--redact-key",
        metavar="SECRET",
        help=f"redact with this key, stable across snapshots (implies --redact; ${REDACT_KEY_ENV} keeps it "
        "out of the process list)",
    )
    parser.add_argument("-n", "--top", type=int, default=10, help="rows of patterns and recommendations")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="with -o: write the RSNAP while decoding and analyze it out of core (bounded memory, "
        "for snapshots larger than RAM)",
    )
    _add_output_flags(parser)


@command(
    "analyze", "snapshot/decode a source, print a summary, optionally write an RSNAP", _analyze_arguments
)
def cmd_analyze(args: argparse.Namespace) -> int:
    redact = _redaction(args)
    if redact is not None and not args.output:
        raise InsightkitError("--redact applies to the RSNAP written with -o/--output")
    written: str | None
    extra: dict[str, pd.DataFrame] = {}
    if args.stream:
        if not args.output:
            raise InsightkitError("--stream needs -o/--output: it writes the RSNAP as it decodes")
        written, summary, source, extra = _analyze_streaming(args, redact)
    else:
        analysis = _open(args, args.source)
        written = str(analysis.to_rsnap(args.output, redact=redact)) if args.output else None
        summary, source = analysis.summary(), analysis.metadata.get("source")
        extra = _findings(analysis, args.top)
    if args.json:
        payload = {"source": source, "rsnap": written, **summary.to_dict()}
        payload.update({name: _records(frame) for name, frame in extra.items()})
        _print_json(payload)
    else:
        print(summary)
        for name, frame in extra.items():
            print()
            print(render_table(frame, title=ANALYZE_TITLES[name]))
        if written:
            print(f"\nRSNAP written to {written}")
    return EXIT_OK


ANALYZE_TITLES = {
    "patterns": "Top patterns by memory",
    "recommendations": "Recommendations (estimated savings)",
}


def _findings(analysis: Any, top: int) -> dict[str, pd.DataFrame]:
    """Top patterns and recommendations, when those stages are part of this build."""
    out: dict[str, pd.DataFrame] = {}
    try:
        patterns = analysis.patterns
    except ImportError:
        return out
    shown: tuple[str, ...] = ("pattern", "owner", "role", "keys", "memory_bytes", "share")
    if "owner" not in patterns.columns or patterns["owner"].isna().all():  # no known library here
        shown = ("pattern", "keys", "memory_bytes", "share")
    columns = [c for c in shown if c in patterns.columns]
    out["patterns"] = patterns.sort_values("memory_bytes", ascending=False).head(top)[columns]
    try:
        recommendations = analysis.recommendations
    except ImportError:
        return out
    columns = [
        "rule",
        "severity",
        "offending_keys",
        "estimated_savings_bytes",
        "counted_savings_bytes",
        "owner",
        "title",
    ]
    if "owner" in recommendations.columns and recommendations["owner"].isna().all():
        columns.remove("owner")
    found = recommendations[recommendations["offending_keys"] > 0]
    out["recommendations"] = found.head(top)[[c for c in columns if c in found.columns]]
    return out


def _redaction(args: argparse.Namespace) -> str | bool | None:
    """The ``redact=`` value: a secret from --redact-key or the environment, True, or None."""
    secret = args.redact_key or (os.environ.get(REDACT_KEY_ENV) if args.redact else None)
    if secret:
        return str(secret)
    return True if args.redact else None


def _analyze_streaming(
    args: argparse.Namespace, redact: str | bool | None
) -> tuple[str, Any, Any, dict[str, pd.DataFrame]]:
    """Out of core: keys streamed into the RSNAP (with patterns); every table from DuckDB over it."""
    from insightkit.analysis import analyze

    options = _connection_options(args)
    progress = _progress_wanted(args)
    # A redacted RSNAP is written from an unredacted temporary one: discovery must see real names.
    target = None if redact is not None else args.output
    with analyze(args.source, progress=progress, out_of_core=True, rsnap=target, **options) as analysis:
        written = args.output if target else analysis.to_rsnap(args.output, redact=redact)
        return (
            str(written),
            analysis.summary(),
            analysis.metadata.get("source"),
            _findings(analysis, args.top),
        )


# --- summary --------------------------------------------------------------------------------------


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an RSNAP or .rdb file (or a live server URL)")
    _add_connection_options(parser)
    _add_output_flags(parser)


@command("summary", "memory by db, type, encoding and TTL of an RSNAP or .rdb", _summary_arguments)
def cmd_summary(args: argparse.Namespace) -> int:
    summary = _open(args, args.file).summary()
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(summary)
    return EXIT_OK


# --- top ------------------------------------------------------------------------------------------

TOP_COLUMNS = ["db", "key", "type", "encoding", "num_elements", "memory_bytes", "expires_at"]


def _top_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an RSNAP or .rdb file (or a live server URL)")
    _add_connection_options(parser)
    parser.add_argument("-n", type=int, default=20, help="how many keys (default 20)")
    parser.add_argument(
        "--by", default="memory_bytes", help="numeric column to rank by (default memory_bytes)"
    )
    _add_output_flags(parser)


@command("top", "the biggest keys", _top_arguments)
def cmd_top(args: argparse.Namespace) -> int:
    top = _open(args, args.file).top(args.n, by=args.by)
    columns = [c for c in TOP_COLUMNS if c in top.columns]
    if args.by not in columns:
        columns.append(args.by)
    if "pattern" in top.columns:
        columns.insert(2, "pattern")
    if args.json:
        _print_json(_records(top[columns]))
    else:
        print(render_table(top[columns], title=f"Top {len(top)} keys by {args.by}"))
    return EXIT_OK


# --- report / diff: delegate to the modules that own them -----------------------------------------


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _add_source(parser)
    parser.add_argument("-o", "--output", default="insightkit-report.html", help="HTML file to write")
    _add_output_flags(parser)


@command("report", "write a static HTML report", _report_arguments)
def cmd_report(args: argparse.Namespace) -> int:
    analysis = _open(args, args.source)
    analysis.to_html(args.output)
    if args.json:
        _print_json({"report": args.output})
    else:
        print(f"report written to {args.output}")
    return EXIT_OK


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the earlier RSNAP (or .rdb)")
    parser.add_argument("new", help="the later RSNAP (or .rdb)")
    parser.add_argument("-n", "--top", type=int, default=15, help="rows per table (default 15)")
    parser.add_argument("--chart", metavar="PNG", help="also draw the diff chart to this image file")
    _add_output_flags(parser)


@command("diff", "what changed between two snapshots", _diff_arguments)
def cmd_diff(args: argparse.Namespace) -> int:
    try:
        from insightkit.diff import diff
    except ImportError:
        raise InsightkitError("diff is not available in this build") from None
    result = diff(_open(args, args.old), _open(args, args.new))
    if args.chart:
        result.plot(top=args.top).savefig(args.chart)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.render(top=args.top))
        if args.chart:
            print(f"\nchart written to {args.chart}")
    return EXIT_OK


# --- main -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insightkit", description="Where your Redis memory goes, and what to do about it."
    )
    parser.add_argument("--version", action="version", version=f"insightkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for spec in COMMANDS.values():
        spec.add_arguments(sub.add_parser(spec.name, help=spec.help, description=spec.help))
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``insightkit`` script; returns the exit code.

    SIGTERM and SIGHUP end a command as Ctrl-C does (insightkit.interrupts): the spill, template
    codes and partial RSNAP beside the output are removed and worker threads stopped; the exit code
    is then 128 + the signal's number (143 for SIGTERM), Ctrl-C's 130.
    """
    from insightkit.interrupts import Terminated, terminate_cleanly

    args = build_parser().parse_args(argv)
    try:
        with terminate_cleanly():
            return COMMANDS[args.command].run(args)
    except Terminated as exc:
        print(f"insightkit: {exc}", file=sys.stderr)
        return exc.exit_code
    except InsightkitError as exc:
        print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return EXIT_OK
        print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if type(exc).__module__.startswith(("redis.", "valkey.")):  # a client error acquire did not wrap
            print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_ERROR
        raise
    except KeyboardInterrupt:
        print("insightkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
