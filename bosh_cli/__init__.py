"""The `bosh` command line: thin click frontend over bosh_core."""

__all__: list[str] = []
