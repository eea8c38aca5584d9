"""Where a customer lands after a Stripe Checkout page (the payment link workflow's default).

Public pages: the customer has no console account. They say what happened and nothing else;
the payment's state is the vendor's, and the hub learns it from the vendor, not from here.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from hub.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/payments/complete")
def payment_complete(
    request: Request,
    # Stripe Checkout appends its session id to the success URL; it is not used here.
    session_id: str | None = Query(None, max_length=200),
) -> Response:
    """Shown after a successful checkout."""
    return render(
        request,
        "error.html",
        {
            "title": "Thank you",
            "public": True,
            "message": "Your payment was submitted. You will receive a receipt by email; "
            "you can close this page.",
        },
    )


@router.get("/payments/canceled")
def payment_canceled(request: Request) -> Response:
    """Shown when the customer leaves the checkout page."""
    return render(
        request,
        "error.html",
        {
            "title": "Payment not completed",
            "public": True,
            "message": "No payment was taken. You can use the link you were sent again "
            "until it expires.",
        },
    )
