"""API of dispute mediation and screening campaigns (mounted under /api/v1/mediation)."""

from ninja import Router

router = Router(tags=["mediation"])
