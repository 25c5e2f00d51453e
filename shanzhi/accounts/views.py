from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from . import services
from .models import User


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        candidate = User.objects.filter(username=username).first()
        if services.is_locked(candidate):
            error = _("Too many failed attempts. The account is locked for a while; try again later.")
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                services.login_failed(username=username)
                error = _("Wrong username or password.")
            else:
                services.login_succeeded(user=user)
                login(request, user)
                return redirect(_next_url(request))
    return render(request, "accounts/login.html", {"form": form, "error": error,
                                                    "next": _next_url(request),
                                                    "idle": request.GET.get("idle") == "1"})


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("accounts:login")


def otp_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/otp.html", {})
