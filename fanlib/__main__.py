import sys

from fanlib.cli import main

sys.exit(main())
