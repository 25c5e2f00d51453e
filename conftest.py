"""Shared test fixtures: a region tree with sibling scopes at every level, and users in it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from shanzhi.testing import factories


@pytest.fixture
def tree(db: Any) -> factories.Tree:
    """Two cities; in city A two counties; in county A1 two towns; in town A1a two villages (with grids)."""
    factories.ensure_reference_data()
    return factories.build_tree()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    return factories.make_user


@pytest.fixture
def api_client(client: Any) -> Any:
    return client


def pytest_report_header(config: Any) -> str:
    return f"shanzhi database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}"


@pytest.fixture(autouse=True)
def _audit_triggers_allow_flush(request: Any) -> Any:
    """SQLite's append-only triggers would block the flush that ends a transactional test.

    For such tests, make sure the triggers exist while the test runs and drop them just before the flush
    (this fixture sets up the transactional database itself, so its teardown runs first).
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("transactional_db")
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    from shanzhi.testing.sqlite import drop_audit_triggers, ensure_audit_triggers

    ensure_audit_triggers()
    yield
    drop_audit_triggers()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_memos(settings: Any) -> Any:
    """Tests change rows with ``update()`` and roll back transactions, neither of which a memo can see: memos are
    off (``SHANZHI_MEMO_SECONDS = 0``) unless a test turns them on, and are emptied after each test."""
    from shanzhi.core import memo

    settings.SHANZHI_MEMO_SECONDS = 0
    yield
    memo.forget_all()
