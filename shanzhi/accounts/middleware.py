"""Idle session timeout and the second-factor gate for officials."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

_IDLE_KEY = "shanzhi_last_seen"


class IdleTimeoutMiddleware:
    """Logs a session out after ``SHANZHI_IDLE_TIMEOUT_MINUTES`` without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last = request.session.get(_IDLE_KEY)
            if last is not None and now - int(last) > settings.SHANZHI_IDLE_TIMEOUT_MINUTES * 60:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                return redirect(f"{reverse('accounts:login')}?next={request.path}&idle=1")
            # write at most once a minute, so most requests do not touch the session store
            if last is None or now - int(last) >= 60:
                request.session[_IDLE_KEY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """Officials with SHANZHI_REQUIRE_2FA must pass TOTP before any page other than login/2FA set-up."""

    # only the steps of logging in and setting up the factor; every other page (my account, user
    # administration, audit log) waits for the code.  The API checks the same in its session auth.
    # /api/v1/ checks the factor itself (shanzhi/api/auth.py); other JSON routes (the Alertmanager API, Open311)
    # accept a session only through this gate, so an unverified session is turned away there too.
    ALLOWED_PREFIXES = ("/static/", "/i18n/", "/api/v1/")
    ALLOWED_NAMES = ("accounts:login", "accounts:logout", "accounts:otp", "accounts:otp_setup")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            settings.SHANZHI_REQUIRE_2FA
            and user is not None
            and user.is_authenticated
            and getattr(user, "is_official", False)
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and request.path not in {reverse(name) for name in self.ALLOWED_NAMES}
            and not (hasattr(user, "is_verified") and user.is_verified())
        ):
            return redirect(f"{reverse('accounts:otp')}?next={request.path}")
        return self.get_response(request)
