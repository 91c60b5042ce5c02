"""The click commands of ``bosh``, one module per noun; each lists its commands in ``COMMANDS``."""

__all__: list[str] = []
