import sys

from orch_tui.app.cli import main

sys.exit(main())
