from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AffairsConfig(AppConfig):
    name = "shanzhi.affairs"
    label = "affairs"
    verbose_name = _("Village affairs")

    def ready(self) -> None:
        from shanzhi.core import home, menu

        from . import selectors

        menu.register(menu.Item("affairs", _("Village affairs"), "affairs:decision_list", "affairs.view", order=60))
        home.register(home.Card("affairs", "affairs/home_card.html", "affairs.view", order=60,
                                context=selectors.home_counts))

        from shanzhi.core import periodic

        def check_disclosures(now: object) -> None:
            from django.core.management import call_command

            call_command("affairs", "check-disclosures", verbosity=0)

        # an overdue disclosure is itself a warning to the town (idempotent per item)
        periodic.register("affairs.check_disclosures", check_disclosures, every=6 * 3600)
