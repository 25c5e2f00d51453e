import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")
_django = get_wsgi_application()  # sets Django up: the intake front imports models

from shanzhi.events.intake_http import wrap  # noqa: E402

# plain bearer-token report posts are answered by the intake front (ADR 0015); everything else by Django
application = wrap(_django)
