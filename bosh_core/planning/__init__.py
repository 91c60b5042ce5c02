"""Planning a deploy: desired state against actual state, as pure, inspectable data.

No I/O here: the deploy job gathers the inputs (manifest, configs, DB rows, agent
states) and executes what these modules decide."""

__all__: list[str] = []
