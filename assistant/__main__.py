"""`python -m assistant` is the `assistant` command."""

from assistant.surfaces.cli import main

main()
