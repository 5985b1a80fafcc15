"""Patient phones stored in E.164 (`+5511987654321`); phone_digits and the phone's search tokens rebuilt.

The patients service now parses phones with phonenumbers and stores E.164; the pages show them formatted.
Here the phones typed before are converted by the same rule (region BR, a valid number, a Brazilian one with its
area code); a phone that does not parse stays as typed, with its digits and tokens as they were. phone_digits
keeps the digits with the area code (`11987654321`); the tokens are the phone with +55, with the area code and
without it, as app/services/validation.phone_digit_forms writes them. The rules are copied here, as in 0004,
so this revision keeps meaning what it meant when the services change.

Downgrade writes E.164 phones back in the national form `(11) 98765-4321` (another country's as
`+1 650-253-0000`), which the earlier services accepted as typed, with their digits and tokens by the earlier rule.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00

"""
import re

import phonenumbers
from alembic import op
import sqlalchemy as sa
import app.db.types


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 1000
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
TOKENS = sa.table("patient_search_token", sa.column("patient_id", sa.Integer), sa.column("token", sa.String))


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _to_e164(phone):
    """(E.164, digits with area code) of a phone typed before, or None when it does not parse."""
    if not re.fullmatch(r"[0-9 ()+.\-]+", phone.strip()):
        return None
    try:
        number = phonenumbers.parse(phone.strip(), "BR")
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    if not phonenumbers.is_valid_number(number) or (number.country_code == 55 and len(national) < 10):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), national


def _e164_forms(phone, national):
    """The E.164 phone's tokens: with the country code, with the area code, and (Brazil) without it."""
    forms = {phone[1:], national}
    if phone.startswith("+55") and len(national) >= 10:
        forms.add(national[2:])
    return forms


def _from_e164(phone):
    """(national form as the earlier services stored it, its digits) of an E.164 phone, or None."""
    if not E164.fullmatch(phone):
        return None
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    formats = phonenumbers.PhoneNumberFormat
    typed = phonenumbers.format_number(number, formats.NATIONAL if number.country_code == 55 else formats.INTERNATIONAL)
    return typed, re.sub(r"[^0-9]", "", typed)


def _typed_forms(digits):
    """The tokens of a phone stored as typed (the rule of revision 0004): its digits, and without the first two."""
    return {digits, digits[2:]} if len(digits) >= 10 else {digits}


def _rewrite_phones(convert):
    """Convert each patient's phone with `convert(phone)` → (phone, phone_digits, phone tokens) or None, and make
    the patient's tokens its name words, its CPF and those phone tokens (in batches)."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, search_name, cpf, phone FROM patient WHERE phone IS NOT NULL ORDER BY id")
    ).all()
    for start in range(0, len(rows), BATCH):
        changes = {}
        for patient_id, search_name, cpf, phone in rows[start : start + BATCH]:
            converted = convert(phone)
            if converted is not None:
                new_phone, digits, phone_tokens = converted
                words = {w[:60] for w in re.findall(r"[a-z0-9]+", search_name or "")}
                changes[patient_id] = (new_phone, digits, words | ({cpf} if cpf else set()) | phone_tokens)
        if not changes:
            continue
        existing = {}
        query = sa.text("SELECT patient_id, token FROM patient_search_token WHERE patient_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)
        )
        for patient_id, token in conn.execute(query, {"ids": list(changes)}):
            existing.setdefault(patient_id, set()).add(token)
        conn.execute(
            sa.text("UPDATE patient SET phone = :phone, phone_digits = :digits WHERE id = :id"),
            [{"id": pid, "phone": phone, "digits": digits} for pid, (phone, digits, _) in changes.items()],
        )
        stale = [
            {"pid": pid, "token": token}
            for pid, (_, _, wanted) in changes.items()
            for token in sorted(existing.get(pid, set()) - wanted)
        ]
        if stale:
            conn.execute(sa.text("DELETE FROM patient_search_token WHERE patient_id = :pid AND token = :token"), stale)
        missing = [
            {"patient_id": pid, "token": token}
            for pid, (_, _, wanted) in changes.items()
            for token in sorted(wanted - existing.get(pid, set()))
        ]
        if missing:
            conn.execute(TOKENS.insert(), missing)


def _upgrade_phone(phone):
    """An earlier phone as E.164, its digits with area code and its tokens; None when it does not parse."""
    parsed = _to_e164(phone)
    if parsed is None:
        return None
    e164, national = parsed
    return e164, national, _e164_forms(e164, national)


def _downgrade_phone(phone):
    """An E.164 phone as the earlier services stored it, its digits and their tokens; None for any other."""
    restored = _from_e164(phone)
    if restored is None:
        return None
    typed, digits = restored
    return typed, digits, _typed_forms(digits)


def upgrade_():
    _rewrite_phones(_upgrade_phone)


def downgrade_():
    _rewrite_phones(_downgrade_phone)


def upgrade_users():
    pass


def downgrade_users():
    pass


def upgrade_history():
    pass


def downgrade_history():
    pass
