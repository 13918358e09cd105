"""One module per CLI subcommand, each exposing `run(args) -> int`."""
