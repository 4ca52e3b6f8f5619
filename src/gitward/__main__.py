"""``python -m gitward`` runs the command line."""

from gitward.cli import main

main.run()
