"""``python -m insightkit`` runs the CLI."""

from insightkit.cli import main

raise SystemExit(main())
