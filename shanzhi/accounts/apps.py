from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "shanzhi.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from shanzhi.core import menu

        menu.register(menu.Item("users", _("Users"), "accounts:user_list", "accounts.view", order=80))
        menu.register(menu.Item("audit", _("Audit log"), "accounts:audit_log", "audit.view", order=90))
        menu.register(menu.Item("me", _("My account"), "accounts:me", None, order=100))
