import sys

from partialloading.cli import main

sys.exit(main())
