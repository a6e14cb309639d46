"""The follow-up's details for agents (domain.booking_changes.booking_details_markdown): shown
with `workflow.set_current_details`, so a booking read with missing or odd fields must still
render — an exception there fails the workflow task again and again."""

from __future__ import annotations

from domain.booking_changes import BookingView, booking_details_markdown
from domain.labels import date_label


def test_a_day_is_labelled_in_french() -> None:
    assert date_label("2026-12-08") == "mardi 8 décembre"
    assert date_label("2026-12-01") == "mardi 1er décembre"


def test_what_is_not_a_day_is_shown_as_it_came() -> None:
    assert date_label("") == "(date inconnue)"
    assert date_label("demain") == "demain"


def test_a_booking_without_its_day_still_renders() -> None:
    text = booking_details_markdown(BookingView(found=True, reference="AB12CD", status="booked"))
    assert "Réservation AB12CD" in text
    assert "(date inconnue)" in text


def test_a_booking_no_longer_in_the_database() -> None:
    assert "introuvable" in booking_details_markdown(BookingView(found=False))
