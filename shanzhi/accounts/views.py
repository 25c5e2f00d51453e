"""Pages: login and second factor, my account (password, 2FA, tokens), user administration, audit log."""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from shanzhi.core.api import audit_list
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationFailed

from . import selectors, services
from .models import User
from .roles import ROLE_LABELS, Role

PENDING_KEY = "shanzhi_2fa_pending"
PENDING_SECONDS = 300
PAGE_SIZE = 50

ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in Role]


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.RegexField(label=gettext_lazy("Six-digit code"), regex=r"^\d{6}$", max_length=6,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=gettext_lazy("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(label=gettext_lazy("New password"), widget=forms.PasswordInput)
    new_password2 = forms.CharField(label=gettext_lazy("New password again"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data


class PasswordSetForm(forms.Form):
    new_password = forms.CharField(label=gettext_lazy("New password"), widget=forms.PasswordInput)
    new_password2 = forms.CharField(label=gettext_lazy("New password again"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Token name"), max_length=80)
    expires_in_days = forms.IntegerField(label=gettext_lazy("Expires in (days, empty: never)"),
                                         min_value=1, max_value=3650, required=False)


class GrantForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)
    region = forms.RegexField(label=gettext_lazy("Region code"), regex=r"^\d{12}$", max_length=12)


class UserCreateForm(GrantForm):
    username = forms.RegexField(label=gettext_lazy("Username"), regex=r"^[\w.@+-]+$", max_length=150)
    display_name = forms.CharField(label=gettext_lazy("Display name"), max_length=60, required=False)
    password = forms.CharField(label=gettext_lazy("Initial password"), widget=forms.PasswordInput)

    field_order = ["username", "display_name", "password", "role", "region"]


class UserFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), max_length=150, required=False)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=[("", "—"), *ROLE_CHOICES], required=False)
    region = forms.RegexField(label=gettext_lazy("Region code prefix"), regex=r"^\d{2,12}$", required=False)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=gettext_lazy("Action"), max_length=80, required=False)
    object = forms.CharField(label=gettext_lazy("Object (type or type:id)"), max_length=150, required=False)
    region = forms.RegexField(label=gettext_lazy("Region code prefix"), regex=r"^\d{2,12}$", required=False)


def scoped_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; service errors become the page answers: 404 (missing or out of scope) and 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied:
            raise DjangoPermissionDenied from None

    return login_required(wrapper)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_scoped_permission(permission):  # type: ignore[union-attr]
        raise PermissionDenied(permission)


def _field_errors(form: forms.Form, exc: ValidationFailed) -> None:
    detail = exc.detail if isinstance(exc.detail, dict) else {"__all__": exc.message}
    for key, value in detail.items():
        field = key if key in form.fields else None
        if key == "region" and "region" not in form.fields:
            field = None
        for message in value if isinstance(value, list) else [value]:
            form.add_error(field, str(message))


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


# --- login ---------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        candidate = User.objects.filter(username=username).first()
        if services.is_locked(candidate):
            error = _("Too many failed attempts. The account is locked for a while; try again later.")
            status = 403
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                services.login_failed(username=username)
                error = _("Wrong username or password.")
                status = 401
            elif services.has_confirmed_device(user):
                # the password was right; the session is not logged in until the code is right too
                request.session.cycle_key()
                request.session[PENDING_KEY] = {"uid": user.pk, "at": int(time.time()),
                                                "backend": getattr(user, "backend", "")}
                return redirect(f"{reverse('accounts:otp')}?next={_next_url(request)}")
            else:
                services.login_succeeded(user=user)
                login(request, user)
                return redirect(_next_url(request))
    elif request.method == "POST":
        status = 422
    return render(request, "accounts/login.html", {"form": form, "error": error,
                                                    "next": _next_url(request),
                                                    "idle": request.GET.get("idle") == "1"}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("accounts:login")


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    uid = pending.get("uid")
    return User.objects.filter(pk=uid, is_active=True).first() if isinstance(uid, int) else None


@require_http_methods(["GET", "POST"])
def otp_view(request: HttpRequest) -> HttpResponse:
    """The second step of a login (pending session) or of an official's session under SHANZHI_REQUIRE_2FA."""
    pending = _pending_user(request)
    user: Any = pending or (request.user if request.user.is_authenticated else None)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("accounts:login")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        if pending is not None:
            request.session.pop(PENDING_KEY, None)
            return redirect("accounts:login")
        return render(request, "accounts/otp.html", {"needs_setup": True, "next": _next_url(request)})
    form = CodeForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST":
        if services.is_locked(user):
            error = _("Too many failed attempts. The account is locked for a while; try again later.")
            status = 403
        elif form.is_valid() and device.verify_token(form.cleaned_data["code"]):
            services.login_succeeded(user=user)
            if pending is not None:
                backend = request.session[PENDING_KEY].get("backend") or None
                login(request, user, backend=backend)
                request.session.pop(PENDING_KEY, None)
            otp_login(request, device)
            return redirect(_next_url(request))
        else:
            services.login_failed(username=user.username)
            error = _("The code is wrong or expired.")
            status = 401
    return render(request, "accounts/otp.html", {"form": form, "error": error, "next": _next_url(request)},
                  status=status)


# --- my account ------------------------------------------------------------------------------------------------

def _render_me(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user: Any = request.user
    context = {
        "password_form": PasswordChangeForm(),
        "token_form": TokenForm(),
        "tokens": selectors.my_tokens(user),
        "has_device": services.has_confirmed_device(user),
        "verified": bool(getattr(user, "is_verified", lambda: False)()),
        "assignments": user.role_assignments.select_related("region").order_by("region_code"),
        **extra,
    }
    return render(request, "accounts/me.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def me_view(request: HttpRequest) -> HttpResponse:
    return _render_me(request)


@login_required
@require_POST
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            services.password_change(actor=request.user, user=request.user,  # type: ignore[arg-type]
                                     old_password=form.cleaned_data["old_password"],
                                     new_password=form.cleaned_data["new_password"])
        except ValidationFailed as exc:
            _field_errors(form, exc)
        else:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
            messages.success(request, _("Your password was changed."))
            return redirect("accounts:me")
    return _render_me(request, status=422, password_form=form)


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        import datetime as dt

        from django.utils import timezone

        days = form.cleaned_data["expires_in_days"]
        expires = timezone.now() + dt.timedelta(days=days) if days else None
        try:
            secret = services.token_create(actor=request.user, user=request.user,  # type: ignore[arg-type]
                                           name=form.cleaned_data["name"], expires_at=expires)
        except ValidationFailed as exc:
            _field_errors(form, exc)
        else:
            return _render_me(request, new_token=secret)
    return _render_me(request, status=422, token_form=form)


@scoped_page
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = selectors.my_token(request.user, pk)
    try:
        services.token_revoke(actor=request.user, token=token)
    except ValidationFailed:
        messages.error(request, _("This token is already revoked."))
    else:
        messages.success(request, _("The token was revoked."))
    return redirect("accounts:me")


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if services.has_confirmed_device(user) and not user.is_verified():
        # moving to a new device needs the old one first: an unverified session cannot replace the factor
        return redirect(f"{reverse('accounts:otp')}?next={reverse('accounts:otp_setup')}")
    device = services.otp_pending_device(user=user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.otp_confirm(user=user, device=device, code=form.cleaned_data["code"])
            except ValidationFailed:
                form.add_error("code", _("The code is wrong or expired."))
            else:
                otp_login(request, device)
                messages.success(request, _("Two-factor authentication is on."))
                return redirect(_next_url(request) if request.POST.get("next") else reverse("accounts:me"))
        status = 422
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(request, "accounts/otp_setup.html",
                  {"form": form, "secret": secret, "qr": qr, "next": request.GET.get("next", "")}, status=status)


# --- user administration -----------------------------------------------------------------------------------

@scoped_page
@require_http_methods(["GET"])
def user_list_view(request: HttpRequest) -> HttpResponse:
    _require(request, "accounts.view")
    form = UserFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "accounts/user_list.html", {"form": form, "page": None}, status=422)
    data = form.cleaned_data if form.is_bound else {}
    qs = selectors.user_list(request.user, role=data.get("role", ""), region=data.get("region", ""),
                             search=data.get("q", ""))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/user_list.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "can_create": request.user.has_scoped_permission("accounts.change"),  # type: ignore[union-attr]
    })


@scoped_page
@require_http_methods(["GET", "POST"])
def user_create_view(request: HttpRequest) -> HttpResponse:
    _require(request, "accounts.change")
    form = UserCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_create(actor=request.user, username=data["username"],
                                            password=data["password"], role=data["role"],
                                            region_code=data["region"], display_name=data["display_name"])
            except ValidationFailed as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, _("The user was created."))
                return redirect("accounts:user_detail", pk=user.pk)
        return render(request, "accounts/user_create.html", {"form": form}, status=422)
    return render(request, "accounts/user_create.html", {"form": form})


def _render_detail(request: HttpRequest, user: User, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "accounts/user_detail.html", {
        "subject": user, "grant_form": GrantForm(), "password_form": PasswordSetForm(),
        "has_device": services.has_confirmed_device(user),
        "can_change": request.user.has_scoped_permission("accounts.change"),  # type: ignore[union-attr]
        **extra,
    }, status=status)


@scoped_page
@require_http_methods(["GET"])
def user_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, selectors.user_get(request.user, pk))


@scoped_page
@require_POST
def role_grant_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.user_get(request.user, pk)
    form = GrantForm(request.POST)
    if form.is_valid():
        try:
            services.role_grant(actor=request.user, user=user, role=form.cleaned_data["role"],
                                region_code=form.cleaned_data["region"])
        except ValidationFailed as exc:
            _field_errors(form, exc)
        else:
            messages.success(request, _("The role was granted."))
            return redirect("accounts:user_detail", pk=user.pk)
    return _render_detail(request, user, status=422, grant_form=form)


@scoped_page
@require_POST
def role_revoke_view(request: HttpRequest, pk: int, assignment: int) -> HttpResponse:
    user = selectors.user_get(request.user, pk)
    row = selectors.assignment_get(request.user, user, assignment)
    services.role_revoke(actor=request.user, assignment=row)
    messages.success(request, _("The role was revoked."))
    return redirect("accounts:user_detail", pk=user.pk)


@scoped_page
@require_POST
def user_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.user_get(request.user, pk)
    try:
        services.user_deactivate(actor=request.user, user=user)
    except ValidationFailed:
        messages.error(request, _("You cannot deactivate your own account."))
        return _render_detail(request, user, status=422)
    messages.success(request, _("The account was deactivated."))
    return redirect("accounts:user_detail", pk=user.pk)


@scoped_page
@require_POST
def user_password_view(request: HttpRequest, pk: int) -> HttpResponse:
    """An administrator sets a new password for a user in their scope (e.g. a forgotten one)."""
    user = selectors.user_get(request.user, pk)
    form = PasswordSetForm(request.POST)
    if form.is_valid():
        try:
            services.password_change(actor=request.user, user=user, new_password=form.cleaned_data["new_password"])
        except ValidationFailed as exc:
            _field_errors(form, exc)
        else:
            messages.success(request, _("The password was set."))
            return redirect("accounts:user_detail", pk=user.pk)
    return _render_detail(request, user, status=422, password_form=form)


@scoped_page
@require_POST
def user_otp_reset_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = selectors.user_get(request.user, pk)
    services.otp_reset(actor=request.user, user=user)
    messages.success(request, _("The second factor was removed; the user sets it up again at next login."))
    return redirect("accounts:user_detail", pk=user.pk)


# --- audit log -------------------------------------------------------------------------------------------------

@scoped_page
@require_http_methods(["GET"])
def audit_log_view(request: HttpRequest) -> HttpResponse:
    _require(request, "audit.view")
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "accounts/audit_log.html", {"form": form, "page": None}, status=422)
    data = form.cleaned_data if form.is_bound else {}
    qs = audit_list(request.user, action=data.get("action", ""), obj=data.get("object", ""),
                              region=data.get("region", ""))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/audit_log.html", {"form": form, "page": page, "query": query.urlencode()})
