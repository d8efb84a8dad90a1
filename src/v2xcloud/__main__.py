"""``python -m v2xcloud`` runs the command line."""

import sys

from v2xcloud.cli.main import main

sys.exit(main())
