"""Seed the shop with realistic customers and orders, the same ones on every run."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .models import Customer, Order

FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
               "Dennis", "Margaret", "Tim", "Sophie", "Linus", "Hedy", "John", "Karen", "Niklaus",
               "Annie", "Guido"]  # fmt: skip
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
              "Perlman", "Ritchie", "Hamilton", "Berners-Lee", "Wilson", "Torvalds", "Lamarr",
              "Backus", "Sparck Jones", "Wirth", "Easley", "van Rossum"]  # fmt: skip
COUNTRIES = ["GB", "US", "NL", "FR", "DE", "CH", "FI", "CA", "IE", "SE"]
STATUS_WEIGHTS = {Order.Status.SHIPPED: 70, Order.Status.PAID: 25, Order.Status.REFUNDED: 5}


def seed_shop(*, customers: int = 200, orders: int = 800, seed: int = 2024) -> tuple[int, int]:
    """Insert ``customers`` customers and ``orders`` orders over the past year, in one transaction.

    The data is random but repeatable for a given ``seed``; dates are relative to now. Returns the
    counts inserted. Raises ``IntegrityError`` if the shop already has these customers (their
    emails are unique): call it on an empty shop.
    """
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        people = Customer.objects.bulk_create(
            _customer(rng, n, now) for n in range(1, customers + 1)
        )
        Order.objects.bulk_create(_order(rng, n, people, now) for n in range(1, orders + 1))
    return customers, orders


def _customer(rng: random.Random, n: int, now: datetime) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    slug = last.lower().replace(" ", "").replace("-", "")
    return Customer(
        name=f"{first} {last}",
        email=f"{first.lower()}.{slug}.{n}@example.com",
        country=rng.choice(COUNTRIES),
        joined_at=now - timedelta(days=rng.randint(365, 3 * 365)),
    )


def _order(rng: random.Random, n: int, people: list[Customer], now: datetime) -> Order:
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    cents = rng.randint(5_00, 450_00)
    return Order(
        customer=rng.choice(people),
        reference=f"ORD-{n:06d}",
        status=status,
        total=Decimal(cents) / 100,
        placed_at=now - timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
    )
