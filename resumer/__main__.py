"""`python -m resumer`: the same as the `resumer` command."""

from resumer.cli import main

raise SystemExit(main())
