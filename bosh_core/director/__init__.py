"""The BOSH director: database, tasks and queue, workers, locks, events, API."""

__all__: list[str] = []
