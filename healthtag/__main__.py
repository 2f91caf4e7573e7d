"""`python -m healthtag` runs the CLI."""

from healthtag.cli import main

main()
