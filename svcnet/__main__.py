import sys

from svcnet.cli import main

sys.exit(main())
