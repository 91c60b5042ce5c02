"""``python -m bosh_cli``: the same as the ``bosh`` command."""

from bosh_cli.main import main

main()
