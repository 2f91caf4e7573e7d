"""`python -m healthtag` runs the CLI."""

from healthtag.inference.cli import main

main()
