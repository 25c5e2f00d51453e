"""Re-encrypt personal data under the current key and recompute the blind indexes (key rotation, step 3).

Every model field that is an :class:`~shanzhi.core.crypto.EncryptedTextField` is read (decrypting with the
current or an old key) and written back (encrypting with the current key).  A field ``F`` with a companion
``F_bidx`` column gets its blind index recomputed with the field's ``mask_kind`` as the index kind — the
convention every service uses (``blind_index("id_number", …)``, ``blind_index("phone", …)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction

from . import audit
from .crypto import EncryptedTextField, blind_index


@dataclass
class RekeyReport:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def encrypted_models() -> list[tuple[type[models.Model], list[EncryptedTextField], dict[str, str]]]:
    """(model, its encrypted fields, {field name: companion blind-index column})."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        names = {f.name for f in model._meta.concrete_fields}
        companions = {f.name: f"{f.name}_bidx" for f in fields if f"{f.name}_bidx" in names}
        found.append((model, fields, companions))
    return found


def rekey(*, batch: int = 500, progress: Callable[[str, int], None] | None = None) -> RekeyReport:
    report = RekeyReport()
    for model, fields, companions in encrypted_models():
        label = model._meta.label
        names = [f.name for f in fields] + list(companions.values())
        last_pk = None
        done = 0
        while True:
            qs = model._default_manager.order_by("pk")
            if last_pk is not None:
                qs = qs.filter(pk__gt=last_pk)
            rows = list(qs.only("pk", *[f.name for f in fields])[:batch])
            if not rows:
                break
            for row in rows:
                for f in fields:
                    if f.name in companions:
                        setattr(row, companions[f.name], blind_index(f.mask_kind, getattr(row, f.name)))
            with transaction.atomic():
                model._default_manager.bulk_update(rows, names)
            done += len(rows)
            last_pk = rows[-1].pk
            if progress:
                progress(label, done)
        report.rows[label] = done
    with transaction.atomic():
        audit.record(actor="cli", action="core.pii.rekey", object_type="pii", object_id="all",
                     after={"rows": report.rows})
    return report
