"""Fixtures shared by the GUI tests."""

from __future__ import annotations

import pytest

from gui.document import NetworkDocument


@pytest.fixture
def doc(qapp) -> NetworkDocument:
    """An empty document (a test file may override it with a populated one)."""
    return NetworkDocument()
