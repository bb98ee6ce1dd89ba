import sys

from execboard.cli import main

sys.exit(main())
