"""``python -m cli`` runs the provreg command line."""

from cli.main import main

main()
