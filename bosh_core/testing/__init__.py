"""The test kit bosh-py ships for plugin authors (needs pytest).

`CPIContract` is the lifecycle suite every CPI must pass; subclass it in your tests.
"""

from __future__ import annotations

import pytest

# Failures inside the suite then explain themselves as they do in a test module.
pytest.register_assert_rewrite("bosh_core.testing.cpi_contract")

from bosh_core.testing.cpi_contract import CPIContract  # noqa: E402

__all__ = ["CPIContract"]
