"""Forms of the event pages: queue filters, lifecycle actions, the mobile report form, statistics, configuration.

Forms only parse and check the shape of the input; the services decide (and their errors are shown in the form
through :func:`error_messages`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ShanzhiError, TooLarge, ValidationFailed

from .attachments import sniff
from .models import Category, Level, Source, Status, Step

# --- service errors in the user's language ----------------------------------------------------------
# The services describe field problems in plain English (API clients read them); pages translate the known ones.
_EXACT = {
    "required": _("This field is required."),
    "give a handler or a department": _("Choose a handler or a department."),
    "not a handler who can act on this event": _("This person cannot handle this event."),
    "the new deadline must be later than the current one": _("The new deadline must be later than the current one."),
    "a whole number from 1 to 5": _("Choose a rating from 1 to 5."),
    "an ISO 8601 date and time": _("Enter a date and time."),
    "the centre does not cover the event's region": _("That centre does not cover the event's region."),
    "the department does not cover the event's region": _("That department does not cover the event's region."),
    "the lower level is not competent for this category": _("The lower level is not competent for this category."),
    "no extension was requested": _("No extension was requested."),
    "an event cannot be merged into itself": _("An event cannot be merged into itself."),
    "a region or a grid is required": _("Choose a grid or a village."),
    "no such grid": _("No such grid."),
    "no such region": _("No such region."),
    "give both latitude and longitude, or neither": _("Give both latitude and longitude, or neither."),
    "this category does not take anonymous reports": _("This category does not take anonymous reports."),
    "must be a whole number": _("Enter a whole number."),
    "must be true or false": _("Enter yes or no."),
    "must be a date (YYYY-MM-DD)": _("Enter a date."),
    "not a field of this category": _("Not a field of this category."),
    "must be a list": _("Enter a JSON list."),
    "required and unique": _("Required, and must not be used by another category."),
    "no such top-level category": _("Choose a top-level category."),
    "a whole number of working minutes from 1 to 525600": _("Enter working minutes from 1 to 525600."),
}
_PREFIXES = {
    "a reason is required": _("A reason is required for this action."),
    "at most": _("The text is too long."),
    "unknown category": _("Choose a category."),
    "must be one of": _("Choose one of the offered values."),
    "latitude must": _("The latitude must be between -90 and 90."),
    "longitude must": _("The longitude must be between -180 and 180."),
    "item ": _("A custom field is not valid: %(detail)s"),
}


def translate_detail(raw: Any) -> str:
    text = str(raw)
    if text in _EXACT:
        return str(_EXACT[text])
    for prefix, message in _PREFIXES.items():
        if text.startswith(prefix):
            rendered = str(message)
            return str(rendered % {"detail": text}) if "%(detail)s" in rendered else rendered
    return text


def error_messages(exc: ShanzhiError) -> dict[str, list[str]]:
    """A service error as form errors: {field or "__all__": [messages in the user's language]}."""
    if isinstance(exc, Conflict) and exc.code == "transition_not_allowed":
        return {"__all__": [gettext("This action is not possible in the event's current state; reload the page.")]}
    if isinstance(exc, NotFound):
        return {"__all__": [gettext("Not found, or outside your area.")]}
    if isinstance(exc, PermissionDenied):
        return {"__all__": [gettext("You may not take this action on this event.")]}
    if isinstance(exc, TooLarge):
        return {"__all__": [gettext("The file is too large.")]}
    result: dict[str, list[str]] = {}
    detail = exc.detail
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "allowed":
                continue
            if isinstance(value, dict):  # custom fields
                for sub, text in value.items():
                    result.setdefault(f"custom_{sub}", []).append(translate_detail(text))
            else:
                result.setdefault(str(key), []).append(translate_detail(value))
    if not result:
        message = str(exc.message)
        if isinstance(exc, ValidationFailed) and exc.code == "idempotency_key_reused":
            message = gettext("This form was already submitted with other content; reload the page.")
        result["__all__"] = [message]
    return result


def apply_errors(form: forms.Form, exc: ShanzhiError, aliases: dict[str, str] | None = None) -> None:
    """Put a service error into a bound form (fields it knows, else non-field errors)."""
    aliases = aliases or {}
    for key, messages in error_messages(exc).items():
        name = aliases.get(key, key)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


# --- queue filters ----------------------------------------------------------------------------------
def _category_choices(empty: str, hidden: frozenset[str] = frozenset()) -> list[tuple[str, Any]]:
    rows = [c for c in Category.objects.filter(active=True).select_related("parent").order_by("sort", "code")
            if c.code not in hidden]
    tops = [c for c in rows if c.parent_id is None]
    groups: list[tuple[str, Any]] = [("", empty)]
    for top in tops:
        leaves = [(c.code, c.name) for c in rows if c.parent_id == top.pk]
        groups.append((top.name, leaves))
    return groups


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("any")), ("open", _("open")), *list(Status.choices)])
    category = forms.CharField(label=_("Category"), required=False, max_length=40)
    source = forms.ChoiceField(label=_("Source"), required=False, choices=[("", _("any")), *list(Source.choices)])
    region = forms.RegexField(label=_("Region code"), required=False, regex=r"^\d{12}$")
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Number or title"), required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].widget = forms.Select(choices=_category_choices(str(_("any"))))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The end is before the start."))
        return data


# --- lifecycle actions ------------------------------------------------------------------------------
ACTION_LABELS = {
    "accept": _("Accept"), "reject": _("Reject"), "dispatch": _("Dispatch"), "reroute": _("Reroute"),
    "return": _("Return to the centre"), "start": _("Start handling"), "handle": _("Report as handled"),
    "request_extension": _("Request an extension"), "approve_extension": _("Approve the extension"),
    "refuse_extension": _("Refuse the extension"), "verify_pass": _("Verification passed"),
    "verify_fail": _("Verification failed"), "close": _("Close"), "rate": _("Rate"), "escalate": _("Escalate"),
    "hand_down": _("Hand down"), "supervise": _("Supervise (督办)"), "suspend": _("Suspend"), "resume": _("Resume"),
    "void": _("Void"), "reopen": _("Reopen"), "report": _("Report"), "merge": _("Merge"),
}


class ActionForm(forms.Form):
    """One lifecycle action; fields beyond the opinion are added by :func:`action_form`."""

    opinion = forms.CharField(label=_("Opinion"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {}
        for key in ("assignee_id", "department_id", "centre_id"):
            if data.get(key):
                params[key] = int(data[key])
        if data.get("until"):
            params["until"] = data["until"].isoformat()
        if data.get("rating"):
            params["rating"] = int(data["rating"])
            params["comment"] = data.get("comment", "")
        if data.get("to_level"):
            params["to_level"] = data["to_level"]
        return params


def action_form(action: str, *, reason: bool, choices: dict[str, list[tuple[Any, str]]],
                data: Any = None) -> ActionForm:
    form = ActionForm(data, prefix=action)
    form.action = action  # type: ignore[attr-defined]
    form.label = ACTION_LABELS.get(action, action)  # type: ignore[attr-defined]
    form.fields["opinion"].required = reason
    if reason:
        form.fields["opinion"].label = _("Reason")
    if action == "dispatch":
        form.fields["assignee_id"] = forms.TypedChoiceField(
            label=_("Handler"), required=False, coerce=int, choices=[("", "—"), *choices.get("handlers", [])])
        form.fields["department_id"] = forms.TypedChoiceField(
            label=_("Department"), required=False, coerce=int, choices=[("", "—"), *choices.get("departments", [])])
    elif action == "reroute":
        form.fields["centre_id"] = forms.TypedChoiceField(
            label=_("Centre"), required=True, coerce=int, choices=[("", "—"), *choices.get("centres", [])])
    elif action == "request_extension":
        form.fields["until"] = forms.DateTimeField(
            label=_("New deadline"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
    elif action == "rate":
        form.fields["rating"] = forms.TypedChoiceField(label=_("Satisfaction"), coerce=int,
                                                       choices=[(i, str(i)) for i in range(5, 0, -1)])
        form.fields["comment"] = forms.CharField(label=_("Comment"), required=False, max_length=500)
        del form.fields["opinion"]
    elif action == "escalate":
        form.fields["to_level"] = forms.ChoiceField(label=_("To level"), required=False,
                                                    choices=[("", _("the next level up")), *list(Level.choices)])
    return form


class MergeForm(forms.Form):
    into = forms.IntegerField(widget=forms.HiddenInput)
    opinion = forms.CharField(label=_("Opinion"), required=False, max_length=2000)


def _check_upload(upload: Any) -> Any:
    limit = int(getattr(settings, "SHANZHI_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
    if upload.size > limit:
        raise forms.ValidationError(_("The file is too large."))
    head = upload.read(16)
    upload.seek(0)
    if sniff(head) is None:
        raise forms.ValidationError(_("Only JPEG, PNG, GIF, WebP images and PDF documents are accepted."))
    return upload


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))

    def clean_file(self) -> Any:
        return _check_upload(self.cleaned_data["file"])


# --- the mobile report form -------------------------------------------------------------------------
class ReportForm(forms.Form):
    required_css_class = "required"
    category = forms.ChoiceField(label=_("Category"))
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    grid = forms.TypedChoiceField(label=_("Grid"), required=False, coerce=int, empty_value=None)
    region = forms.ChoiceField(label=_("Village (when no grid)"), required=False)
    address = forms.CharField(label=_("Location"), required=False, max_length=200)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90,
                           widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    lng = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180,
                           widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    photo = forms.FileField(label=_("Photo"), required=False, widget=forms.ClearableFileInput(
        attrs={"accept": "image/*", "capture": "environment"}))
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args: Any, grids: list[tuple[int, str]], regions: list[tuple[str, str]],
                 category: Category | None, hidden: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # categories of scenario packs that are not enabled where the reporter works are not offered
        self._choices("category", _category_choices("—", hidden))
        self._choices("grid", [("", "—"), *grids])
        self._choices("region", [("", "—"), *regions])
        self.custom_names: list[str] = []
        for spec in (category.fields if category else []) or []:
            name = f"custom_{spec['name']}"
            label = spec.get("label") or spec["name"]
            required = bool(spec.get("required"))
            kind = spec.get("type", "text")
            field: forms.Field
            if kind == "int":
                field = forms.IntegerField(label=label, required=required)
            elif kind == "bool":
                field = forms.BooleanField(label=label, required=False)
            elif kind == "choice":
                field = forms.ChoiceField(label=label, required=required,
                                          choices=[("", "—")] + [(c, c) for c in spec.get("choices", [])])
            elif kind == "date":
                field = forms.DateField(label=label, required=required,
                                        widget=forms.DateInput(attrs={"type": "date"}))
            else:
                field = forms.CharField(label=label, required=required, max_length=1000)
            self.fields[name] = field
            self.custom_names.append(name)

    def _choices(self, name: str, choices: list[Any]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_photo(self) -> Any:
        upload = self.cleaned_data.get("photo")
        return _check_upload(upload) if upload else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("grid") and not data.get("region"):
            self.add_error("grid", _("Choose a grid or a village."))
        if (data.get("lat") is None) != (data.get("lng") is None):
            self.add_error("lat", _("Give both latitude and longitude, or neither."))
        return data

    def custom(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in self.custom_names:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            result[name.removeprefix("custom_")] = value.isoformat() if isinstance(value, dt.date) else value
        return result


# --- statistics -------------------------------------------------------------------------------------
class StatsForm(forms.Form):
    region = forms.RegexField(label=_("Region code"), required=False, regex=r"^\d{12}$")
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


# --- configuration ----------------------------------------------------------------------------------
class CategoryForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, required=False)
    parent = forms.TypedChoiceField(label=_("Parent category"), required=False, coerce=int, empty_value=None)
    name = forms.CharField(label=_("Name"), max_length=80)
    name_en = forms.CharField(label=_("English name"), max_length=120, required=False)
    min_level = forms.ChoiceField(label=_("Lowest competent level"), choices=Level.choices)
    department_type = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    allow_anonymous = forms.BooleanField(label=_("Anonymous reports allowed"), required=False)
    is_dispute = forms.BooleanField(label=_("Dispute (has a mediation record)"), required=False)
    auto_escalate = forms.BooleanField(label=_("Escalate automatically when overdue"), required=False)
    may_skip_levels = forms.BooleanField(label=_("Escalation may skip a level"), required=False)
    active = forms.BooleanField(label=_("Active"), required=False)
    sort = forms.IntegerField(label=_("Sort order"), min_value=0, initial=0)
    fields_json = forms.CharField(label=_("Custom fields (JSON)"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))

    def __init__(self, *args: Any, creating: bool, parents: list[tuple[int, str]],
                 departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for step in Step:
            self.fields[f"deadline_{step.value}"] = forms.IntegerField(
                label=_("Deadline: %(step)s (working minutes)") % {"step": step.label}, required=False,
                min_value=1, max_value=525600)
        for name, choices in (("parent", [("", _("(top level)")), *parents]),
                              ("department_type", [("", "—"), *departments])):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices
        if creating:
            self.fields["code"].required = True
        else:
            del self.fields["code"]
            del self.fields["parent"]

    def clean_fields_json(self) -> list[dict[str, Any]]:
        raw = self.cleaned_data.get("fields_json", "").strip() or "[]"
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("Not valid JSON.")) from None
        from .config_services import clean_custom_fields

        try:
            return clean_custom_fields(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(translate_detail((exc.detail or {}).get("fields", ""))) from None

    def deadlines(self) -> dict[str, int]:
        return {s.value: self.cleaned_data[f"deadline_{s.value}"] for s in Step
                if self.cleaned_data.get(f"deadline_{s.value}")}


class CalendarDayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    is_workday = forms.TypedChoiceField(label=_("Kind"), coerce=lambda v: v == "1",
                                        choices=[("0", _("holiday (rest day)")), ("1", _("working day"))])
    name = forms.CharField(label=_("Name"), max_length=60, required=False)


class LoadYearsForm(forms.Form):
    years = forms.CharField(label=_("Years"), max_length=100)

    def clean_years(self) -> list[int]:
        try:
            years = sorted({int(y) for y in self.cleaned_data["years"].replace(",", " ").split()})
        except ValueError:
            raise forms.ValidationError(_("Enter years such as 2026 2027.")) from None
        if not years or any(not 2000 <= y <= 2100 for y in years):
            raise forms.ValidationError(_("Enter years such as 2026 2027."))
        return years
