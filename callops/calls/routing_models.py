"""Routing: an agent's ordered fallback agents, and routing profiles that split calls by weight.

Kept apart from calls/models.py (which imports them, so Django finds them there) because routing
is its own concern: `callops.calls.routing` places a call along these rows.
"""

import uuid

from django.db import models
from django.utils import timezone


class AgentFallback(models.Model):
    """`fallback` takes an agent's calls, in `position` order, when a placement is refused in a way
    that proves nobody was dialed (see callops.calls.routing)."""

    agent = models.ForeignKey("calls.Agent", on_delete=models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey("calls.Agent", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "position"], name="agent_fallback_position"),
            models.UniqueConstraint(fields=["agent", "fallback"], name="agent_fallback_once"),
        ]

    def __str__(self):
        return f"{self.agent_id} -> {self.fallback_id} (#{self.position})"


class RoutingProfile(models.Model):
    """Splits calls across agents by weight (80/20, to compare providers on real traffic)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="routing_profiles")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    org_lookup = "organization"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="routing_profile_name_per_org")]
        indexes = [
            # GET /v1/routing_profiles: newest first, keyset on (created_at, id).
            models.Index(fields=["organization", "-created_at", "-id"], name="routing_profile_org_recent"),
        ]

    def __str__(self):
        return self.name


class RoutingWeight(models.Model):
    profile = models.ForeignKey(RoutingProfile, on_delete=models.CASCADE, related_name="weights")
    agent = models.ForeignKey("calls.Agent", on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveIntegerField()
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["profile", "agent"], name="routing_weight_agent_once")]

    def __str__(self):
        return f"{self.agent_id}: {self.weight}"
