"""Dispute mediation (矛盾纠纷排查化解) models — imported by ``events/models.py``.  Owned by the mediation work."""
