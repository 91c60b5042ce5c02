"""Manifests as operators write them: go-patch ops files, ((variables)), vars stores."""

__all__: list[str] = []
