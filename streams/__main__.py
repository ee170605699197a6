"""``python -m streams`` runs the gridwatch command line."""

from streams.cli import main

main()
