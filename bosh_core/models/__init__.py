"""Frozen attrs models of BOSH documents: releases, versions (and later manifests)."""

__all__: list[str] = []
