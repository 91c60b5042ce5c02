"""The director's jobs: one module per task kind (what a worker runs for a task).

Each job is a sync function taking the database, the blobstore and the task's event log;
the worker calls it in a thread. Importing this package imports no job module.
"""

__all__: list[str] = []
