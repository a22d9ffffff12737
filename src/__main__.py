"""`python -m src ...`: the command-line entry point."""

from src.cli import main

raise SystemExit(main())
