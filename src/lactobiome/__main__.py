import sys

from lactobiome.cli import main

sys.exit(main())
