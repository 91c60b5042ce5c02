"""Release engineering: release directories, fingerprints, blobs and release tarballs.

The modules are imported one by one (``bosh_core.release.releasedir``, ``.tarball``...);
this package itself exports nothing.
"""

__all__: list[str] = []
