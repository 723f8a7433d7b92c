"""Forms: the basics a request is checked for before any row or job is written."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from .models import ExportRequest, Subscriber


class ExportForm(forms.ModelForm):
    """Choose what to export; orders may be bounded by the date they were placed."""

    class Meta:
        model = ExportRequest
        fields = ["kind", "placed_from", "placed_until"]
        widgets = {
            "kind": forms.RadioSelect,
            "placed_from": forms.DateInput(attrs={"type": "date"}),
            "placed_until": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {"placed_from": "Orders only; leave empty for all dates."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, start, end = data.get("kind"), data.get("placed_from"), data.get("placed_until")
        if kind == ExportRequest.Kind.CUSTOMERS and (start or end):
            raise forms.ValidationError("Dates apply to order exports only; clear them.")
        if start and end and start > end:
            self.add_error("placed_until", "Must be on or after the start date.")
        if start and start > timezone.localdate():
            self.add_error("placed_from", "No orders were placed in the future.")
        return data


class SignupForm(forms.ModelForm):
    """Sign up with a name and an email address not already signed up."""

    class Meta:
        model = Subscriber
        fields = ["name", "email"]

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).lower()


class TryJobForm(forms.Form):
    """Pick a job that shows how failures are handled."""

    BEHAVIOURS = [
        ("flaky", "Flaky: fails twice, then succeeds on its third attempt"),
        ("always_fails", "Broken: fails every attempt and ends as a dead job"),
    ]

    behaviour = forms.ChoiceField(choices=BEHAVIOURS, widget=forms.RadioSelect)
    label = forms.CharField(max_length=50, initial="Nightly sync")
