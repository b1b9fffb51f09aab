"""Conformance rows: each test that demonstrates one case of the mtls
draft or one attacker trick carries a ``@row(...)`` decorator with the case,
its input and the expected outcome. conformance_table.py turns the rows
into the table in docs/CONFORMANCE.md, and test_conformance_doc.py fails
when that file and the tests disagree, so the document cannot drift from
what is tested.

Only the standard library; importing this module starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# Sections of the table, in the order they appear.
CERTS = "Certificates and names"
DNS = "DNS and DNSSEC"
SMTP = "SMTP sessions and identities"
HEADERS = "Header hygiene and injection"
POLICY = "Policy and exemptions"
TYPE = "Client MX record type"
DANE = "DANE for the sending host (TLSA, policy channel)"
SENDMAIL = "Sendmail macro semantics (milter protocol)"

SECTIONS = (
    CERTS,
    DNS,
    TYPE,
    DANE,
    SMTP,
    HEADERS,
    POLICY,
    SENDMAIL,
)


@dataclass(frozen=True)
class Row:
    section: str
    case: str
    input: str
    expected: str


def row(section, case, input, expected):  # noqa: A002 - the column is called input
    """Mark a test method as the demonstration of one conformance row.

    ``expected`` states the outcome the test asserts (result, reason,
    identity, SMTP code ...), in the words an operator would use."""
    if section not in SECTIONS:
        raise ValueError(f"unknown conformance section {section!r}")
    for name, value in (("case", case), ("input", input), ("expected", expected)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"conformance row needs a non-empty {name}")

    def mark(test):
        test.conformance_row = Row(section, case.strip(), input.strip(), expected.strip())
        return test

    return mark


def row_of(test_method):
    return getattr(test_method, "conformance_row", None)
