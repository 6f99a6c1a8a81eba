"""``python -m puffer_trainer ...`` and ``torchrun ... -m puffer_trainer``: the ``puffer`` command."""

from .cli import main

raise SystemExit(main())
