"""The Textual front end and the CLI. Modules import Textual lazily so headless commands
(`plan`, `run`, `status`, `init`) start fast and work without a terminal."""
