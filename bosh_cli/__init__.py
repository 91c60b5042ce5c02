"""The `bosh` command line: thin click frontend over bosh_core."""
