from __future__ import annotations

from typing import Any

import pytest

from shanzhi.portal.sms import LocMemSender


@pytest.fixture(autouse=True)
def _sms_outbox(settings: Any) -> Any:
    settings.SHANZHI_SMS_BACKEND = "shanzhi.portal.sms.LocMemSender"
    LocMemSender.outbox.clear()
    yield LocMemSender.outbox
    LocMemSender.outbox.clear()


@pytest.fixture
def outbox(_sms_outbox: Any) -> Any:
    return _sms_outbox
