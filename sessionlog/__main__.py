"""`python -m sessionlog`: the same CLI as the `sessionlog` command."""

from .cli import main

main(prog_name="sessionlog")
