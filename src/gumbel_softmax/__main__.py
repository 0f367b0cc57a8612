"""`python -m gumbel_softmax` runs the command-line interface (also under torchrun)."""

from gumbel_softmax.cli import main

raise SystemExit(main())
