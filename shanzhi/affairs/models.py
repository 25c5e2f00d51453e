"""Village affairs: 五议两公开 decisions, meetings and votes, 村监会 supervision, 三务公开 disclosures, the ledger and
the petty-power list (DOMAIN.md "Village decisions").

Every row belongs to a village (``region_code`` is the 12-digit village code).  Rows are written only by
``services`` (one transaction, one audit row each); what the public sees is published through
:class:`Publication`, which carries the verification code.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shanzhi.core.masking import mask
from shanzhi.core.models import AuditEntry, ScopedModel


class MatterType(models.TextChoices):
    PROJECT = "project", _("Collective economic project (initiation, contracting, tendering)")
    LARGE_FUND = "large_fund", _("Use of large funds")
    BORROWING = "borrowing", _("Borrowing")
    ASSET_DISPOSAL = "asset_disposal", _("Disposal of collective assets")
    INCOME_DISTRIBUTION = "income_distribution", _("Income distribution")
    LEASING = "leasing", _("Leasing of collective land, houses or forest")
    HOMESTEAD = "homestead", _("Homestead allocation")
    LAND_COMPENSATION = "land_compensation", _("Land-requisition compensation")
    ALLOWANCE = "allowance", _("Allowances")
    OTHER = "other", _("Other matter")


# the matters that need the whole procedure whatever the amount (村民委员会组织法 §24)
REQUIRED_TYPES = frozenset(t.value for t in MatterType if t is not MatterType.OTHER)


class Stage(models.TextChoices):
    PROPOSAL = "proposal", _("Proposal by party members or villagers")
    PARTY_BRANCH = "party_branch", _("Proposed by the party branch")
    JOINT_MEETING = "joint_meeting", _("Deliberated by the joint meeting; plan published")
    PARTY_ASSEMBLY = "party_assembly", _("Reviewed by the party-member assembly")
    VILLAGERS_MEETING = "villagers_meeting", _("Resolved by the villagers' (representatives') meeting")
    RESULT_PUBLISHED = "result_published", _("Voting result published")
    IMPLEMENTATION = "implementation", _("Being implemented")
    IMPLEMENTATION_PUBLISHED = "implementation_published", _("Implementation result published")
    EVALUATION = "evaluation", _("Evaluated by the villagers")
    CLOSED = "closed", _("Record signed and closed")
    REJECTED = "rejected", _("Rejected")


STAGE_ORDER = [s.value for s in Stage if s is not Stage.REJECTED]


class VillageSettings(ScopedModel):
    """One village's own settings; a missing row means the statutory defaults (``rules.defaults``)."""

    large_amount = models.DecimalField(_("large amount threshold (yuan)"), max_digits=14, decimal_places=2)
    plan_publish_days = models.PositiveSmallIntegerField(_("days the plan is published"))
    result_publish_days = models.PositiveSmallIntegerField(_("days the voting result is published"))
    notice_lead_days = models.PositiveSmallIntegerField(_("meeting notice lead time (days)"))

    class Meta:
        verbose_name = _("village settings")
        verbose_name_plural = _("village settings")
        constraints = [models.UniqueConstraint(fields=["region_code"], name="affairs_settings_one_per_village")]

    def __str__(self) -> str:
        return self.region_code


class Decision(ScopedModel):
    """重大事项: one matter and where it stands in the 五议两公开 procedure."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    matter_type = models.CharField(_("matter type"), max_length=24, choices=MatterType.choices)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2, default=Decimal("0"))
    description = models.TextField(_("description"), blank=True)
    proposer = models.CharField(_("proposed by"), max_length=100, blank=True)
    requires_procedure = models.BooleanField(_("requires the whole procedure"), default=True)
    stage = models.CharField(_("stage"), max_length=28, choices=Stage.choices, default=Stage.PROPOSAL,
                             db_index=True)
    plan_published_at = models.DateTimeField(_("plan published at"), null=True, blank=True)
    result_published_at = models.DateTimeField(_("result published at"), null=True, blank=True)
    implementation_published_at = models.DateTimeField(_("implementation published at"), null=True, blank=True)
    evaluation = models.TextField(_("villagers' evaluation"), blank=True)
    supervisory_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("signed by the supervisory committee"),
    )
    supervisory_signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_public(self) -> bool:
        return self.plan_published_at is not None

    @property
    def stage_index(self) -> int:
        return STAGE_ORDER.index(self.stage) if self.stage in STAGE_ORDER else -1


class DecisionStep(models.Model):
    """One applied step of a decision (the procedure's record)."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=32)
    from_stage = models.CharField(_("from"), max_length=28)
    to_stage = models.CharField(_("to"), max_length=28)
    meeting = models.ForeignKey("Meeting", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opinion = models.TextField(_("opinion"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(_("time"))
    audit_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.decision_id}:{self.action}"


class DecisionAttachment(models.Model):
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(_("name"), max_length=200)
    file = models.FileField(_("file"), upload_to="affairs/decisions/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SupervisoryOpinion(ScopedModel):
    """村监会 opinion on a decision at the stage it was in."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="opinions")
    stage = models.CharField(_("stage"), max_length=28, choices=Stage.choices)
    text = models.TextField(_("opinion"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("supervisory opinion")
        verbose_name_plural = _("supervisory opinions")

    def __str__(self) -> str:
        return self.text[:40]


# --- people of the village: committee, relatives, representatives, supervisory committee ---


class CommitteeMember(ScopedModel):
    """村民委员会 member (needed to check the supervisory committee)."""

    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="+")
    post = models.CharField(_("post"), max_length=40, blank=True)
    elected_on = models.DateField(_("elected on"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "id"]
        verbose_name = _("village committee member")
        verbose_name_plural = _("village committee members")

    def __str__(self) -> str:
        return mask("name", self.resident.name)


class Relative(ScopedModel):
    """A declared close relative of a committee member."""

    member = models.ForeignKey(CommitteeMember, on_delete=models.CASCADE, related_name="relatives")
    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="+")
    relation = models.CharField(_("relation"), max_length=20)

    class Meta:
        verbose_name = _("declared close relative")
        verbose_name_plural = _("declared close relatives")
        constraints = [models.UniqueConstraint(fields=["member", "resident"], name="affairs_relative_unique")]

    def __str__(self) -> str:
        return self.relation


class Representative(ScopedModel):
    """村民代表."""

    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="+")
    since = models.DateField(_("since"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("villagers' representative")
        verbose_name_plural = _("villagers' representatives")
        constraints = [models.UniqueConstraint(fields=["resident"], condition=Q(active=True),
                                               name="affairs_representative_unique")]

    def __str__(self) -> str:
        return mask("name", self.resident.name)


class SupervisoryMember(ScopedModel):
    """村务监督委员会 member."""

    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="+")
    elected_on = models.DateField(_("elected on"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("supervisory committee member")
        verbose_name_plural = _("supervisory committee members")
        constraints = [models.UniqueConstraint(fields=["resident"], condition=Q(active=True),
                                               name="affairs_supervisory_unique")]

    def __str__(self) -> str:
        return mask("name", self.resident.name)


# --- meetings and votes ---


class MeetingKind(models.TextChoices):
    JOINT = "joint", _("Joint meeting (村务联席会议)")
    PARTY_ASSEMBLY = "party_assembly", _("Party-member assembly")
    VILLAGERS = "villagers", _("Villagers' meeting")
    REPRESENTATIVES = "representatives", _("Villagers' representatives' meeting")


class RosterKind(models.TextChoices):
    PARTY_MEMBERS = "party_members", _("Party members")
    REPRESENTATIVES = "representatives", _("Representatives")
    ADULT_VILLAGERS = "adult_villagers", _("Adult villagers")
    HOUSEHOLDS = "households", _("Households")
    COMMITTEE = "committee", _("Joint-meeting members")


class MeetingStatus(models.TextChoices):
    CONVENED = "convened", _("Convened")
    CLOSED = "closed", _("Closed")


class Meeting(ScopedModel):
    kind = models.CharField(_("kind"), max_length=20, choices=MeetingKind.choices)
    title = models.CharField(_("title"), max_length=200)
    held_at = models.DateTimeField(_("held at"))
    notice_at = models.DateTimeField(_("notice given at"))
    roster_kind = models.CharField(_("roster"), max_length=20, choices=RosterKind.choices)
    secret_ballot = models.BooleanField(_("secret ballot"), default=False)
    # residents on the roster sign in and vote themselves on the portal
    portal_voting = models.BooleanField(_("voting on the portal"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=MeetingStatus.choices,
                              default=MeetingStatus.CONVENED)
    minutes = models.TextField(_("minutes"), blank=True)
    signatures = models.JSONField(_("signatures"), default=list, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-held_at", "-id"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")

    def __str__(self) -> str:
        return self.title


class RosterEntry(models.Model):
    """One person (or household) on the snapshot roster of a meeting, with attendance."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="roster")
    resident = models.ForeignKey("people.Resident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    household = models.ForeignKey("people.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    label = models.CharField(max_length=60)  # the masked name or the household number, frozen at convening
    present = models.BooleanField(_("present"), default=False)
    signed_in_by = models.CharField(_("signed in by"), max_length=10, blank=True)  # clerk | self
    signed_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "resident"], name="affairs_roster_unique_resident"),
            models.UniqueConstraint(fields=["meeting", "household"], name="affairs_roster_unique_household"),
        ]

    def __str__(self) -> str:
        return self.label


class Choice(models.TextChoices):
    FOR = "for", _("For")
    AGAINST = "against", _("Against")
    ABSTAIN = "abstain", _("Abstain")


class VoteItem(models.Model):
    """One item voted on in a meeting (usually a decision)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="vote_items")
    title = models.CharField(_("title"), max_length=200)
    # a tally entered by the clerk (show of hands); null while ballots are cast one by one
    tally_for = models.PositiveIntegerField(null=True, blank=True)
    tally_against = models.PositiveIntegerField(null=True, blank=True)
    tally_abstain = models.PositiveIntegerField(null=True, blank=True)
    # the computed result, frozen when the meeting closes
    result = models.JSONField(_("result"), null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title

    @property
    def passed(self) -> bool:
        return bool(self.result and self.result.get("passed"))


class VoteReceipt(models.Model):
    """Who has voted on an item (one each); for a secret ballot it is not linked to the choice."""

    item = models.ForeignKey(VoteItem, on_delete=models.CASCADE, related_name="receipts")
    entry = models.ForeignKey(RosterEntry, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "entry"], name="affairs_one_vote_per_person")]

    def __str__(self) -> str:
        return f"{self.item_id}:{self.entry_id}"


class Ballot(models.Model):
    item = models.ForeignKey(VoteItem, on_delete=models.CASCADE, related_name="ballots")
    entry = models.ForeignKey(RosterEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)

    def __str__(self) -> str:
        return self.choice


# --- publications (tamper evidence) ---


class Publication(ScopedModel):
    """A published record and its verification code (see ``publish.py``)."""

    code = models.CharField(_("verification code"), max_length=12, unique=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    upto = models.PositiveIntegerField(default=0)  # decisions: the last step the published record covers
    title = models.CharField(_("title"), max_length=200)
    digest = models.CharField(max_length=64)
    audit_entry = models.ForeignKey(AuditEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("publication")
        verbose_name_plural = _("publications")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return self.code


# --- 三务公开 ---


class DisclosureCategory(models.TextChoices):
    PARTY = "party", _("Party affairs")
    VILLAGE = "village", _("Village affairs")
    FINANCE = "finance", _("Finances")


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    IMMEDIATE = "immediate", _("At once (major matter)")


class Disclosure(ScopedModel):
    """One disclosure (version).  Published versions never change: an edit creates the next version."""

    category = models.CharField(_("category"), max_length=10, choices=DisclosureCategory.choices)
    cadence = models.CharField(_("cadence"), max_length=10, choices=Cadence.choices)
    period = models.CharField(_("period"), max_length=10, blank=True)  # 2026-11, 2026-Q4, "" for major
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("content"))
    series = models.CharField(max_length=32, db_index=True)  # shared by all versions
    version = models.PositiveIntegerField(_("version"), default=1)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    change_reason = models.CharField(_("reason for the new version"), max_length=300, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("disclosure")
        verbose_name_plural = _("disclosures")
        constraints = [models.UniqueConstraint(fields=["series", "version"], name="affairs_disclosure_version")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class DisclosureWarning(ScopedModel):
    """An overdue disclosure noticed by ``check-disclosures`` (one per village, category and period)."""

    category = models.CharField(max_length=10, choices=DisclosureCategory.choices)
    period = models.CharField(max_length=10)
    due_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_code", "category", "period"],
                                               name="affairs_warning_once")]

    def __str__(self) -> str:
        return f"{self.region_code} {self.category} {self.period}"


# --- the ledger ---


class EntryKind(models.TextChoices):
    INCOME = "income", _("Income")
    EXPENSE = "expense", _("Expense")


class LedgerEntry(ScopedModel):
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    category = models.CharField(_("category"), max_length=60)
    counterparty = models.CharField(_("counterparty"), max_length=120)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2)
    date = models.DateField(_("date"), db_index=True)
    voucher = models.FileField(_("voucher"), upload_to="affairs/vouchers/%Y/%m/")
    voucher_sha256 = models.CharField(max_length=64)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(null=True, blank=True)
    cosigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("co-signed by the supervisory committee"))
    cosigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")

    def __str__(self) -> str:
        return f"{self.date} {self.kind} {self.amount}"


class Statement(ScopedModel):
    """A monthly statement computed from the ledger entries (never typed)."""

    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"))
    version = models.PositiveIntegerField(_("version"), default=1)
    data = models.JSONField(_("figures"))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        ordering = ["-year", "-month", "-version"]
        verbose_name = _("monthly statement")
        verbose_name_plural = _("monthly statements")
        constraints = [models.UniqueConstraint(fields=["region_code", "year", "month", "version"],
                                               name="affairs_statement_version")]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def period(self) -> str:
        return f"{self.year}-{self.month:02d}"


# --- 小微权力清单 ---


class PettyPower(ScopedModel):
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    steps = models.JSONField(_("procedure steps"), default=list)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "name"]
        verbose_name = _("petty power")
        verbose_name_plural = _("petty powers")

    def __str__(self) -> str:
        return self.name


class PowerExercise(ScopedModel):
    power = models.ForeignKey(PettyPower, on_delete=models.PROTECT, related_name="exercises")
    subject = models.CharField(_("subject"), max_length=200)
    steps_done = models.JSONField(_("steps done"), default=list)
    happened_on = models.DateField(_("date"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-happened_on", "-id"]
        verbose_name = _("exercise of a petty power")
        verbose_name_plural = _("exercises of petty powers")

    def __str__(self) -> str:
        return self.subject


# --- residents' comments on a plan under publication (moderated) ---


class CommentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PlanComment(ScopedModel):
    """A resident's comment on a decision's plan while it is published; shown publicly once approved."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="comments")
    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("comment"), max_length=1000)
    status = models.CharField(_("status"), max_length=10, choices=CommentStatus.choices,
                              default=CommentStatus.PENDING, db_index=True)
    moderated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("comment on a plan")
        verbose_name_plural = _("comments on plans")

    def __str__(self) -> str:
        return self.text[:40]

    @property
    def author_masked(self) -> str:
        return mask("name", self.resident.name)
