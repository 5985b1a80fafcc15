"""The SPEC 10 clinic mix for locust: staff sessions that log in through the real form, then ~70 % reads and
~30 % writes with no think time (a closed loop: the server's capacity, not a staff member's pace).

bench/load.py starts locust with this file and a JSON file (SORRISO_LOAD_DATA) naming the accounts, patients,
plans, dentists and opening hours of the seeded clinic. Each session works in its own days of the agenda (far
enough ahead that the demo agenda is empty there), on patients it registered itself, and on its own share of
the approved plans, so a refused booking or payment means a real refusal, never two sessions colliding.
Every write counts as done only on the server's success answer; anything else is a failure, labelled by kind.
"""

import itertools
import json
import os
import random
import re
import time
from datetime import date, datetime, timedelta

from locust import FastHttpUser, constant, task

DATA = json.loads(open(os.environ["SORRISO_LOAD_DATA"], encoding="utf-8").read())
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BOOKED = re.compile(r'data-testid="booked" data-appointment-id="(\d+)"')
PATIENT_PATH = re.compile(r"/patients/(\d+)$")
TABS = ("anamnesis", "appointments", "chart", "plans", "finance", "timeline")
SESSIONS = itertools.count()
LOGIN_ATTEMPTS = 20


def failure_kind(response) -> str:
    """A short label of what went wrong, for the errors-by-kind table."""
    body = (response.text or "")[:4000] if response.content else ""
    if os.environ.get("SORRISO_LOAD_DUMP"):
        with open(os.environ["SORRISO_LOAD_DUMP"], "a", encoding="utf-8") as dump:
            dump.write(f"\n==== {response.status_code} {response.request.url if response.request else ''}\n{body}\n")
    if response.status_code == 0:
        return f"connection: {response.error}"
    if "locked" in body or "bloquead" in body:
        return f"HTTP {response.status_code} database is locked"
    if response.status_code >= 400:
        return f"HTTP {response.status_code}"
    alert = re.search(r'(?:role="alert"|class="error[^"]*")[^>]*>\s*([^<]{1,120})', body)
    return f"refused: {alert.group(1).strip() if alert else 'no success answer'}"


class Staff(FastHttpUser):
    """One receptionist at the front desk, as fast as the server answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.number = next(SESSIONS)
        username, password = DATA["accounts"][self.number % len(DATA["accounts"])]
        self.rng = random.Random(self.number)
        found = None
        for _attempt in range(LOGIN_ATTEMPTS):  # as staff would: a login that failed is tried again
            page = self.client.get("/login", name="login page").text or ""
            token = CSRF_FIELD.search(page)
            form = {"csrf_token": token.group(1) if token else "", "username": username, "password": password}
            with self.client.post("/login", data=form, name="login", catch_response=True) as response:
                found = CSRF_META.search(response.text or "")
                if response.status_code == 200 and found and not (response.url or "").endswith("/login"):
                    break
                found = None
                response.failure(failure_kind(response))
            time.sleep(0.5)
        if found is None:
            raise RuntimeError(f"{username} could not log in")
        self.token = found.group(1)
        self.htmx = {"HX-Request": "true", "X-CSRFToken": self.token}
        self.patients: list[tuple[int, dict]] = []  # registered by this session: (id, form values)
        self.appointments: list[int] = []
        self.patient: int | None = None  # the record this session has open
        self.slots = self._own_slots()
        self.plans = DATA["plans"][self.number :: max(1, DATA["sessions"])] or DATA["plans"]

    def _own_slots(self):
        """Free slots in this session's own days: every `sessions`-th open day from `first_day` on."""
        hours = {int(k): v for k, v in DATA["hours"].items()}
        step = timedelta(minutes=DATA["slot_minutes"])
        day = date.fromisoformat(DATA["first_day"]) + timedelta(days=self.number)
        while True:
            opening = hours.get(day.weekday())
            if opening:
                cursor = datetime.combine(day, datetime.strptime(opening[0], "%H:%M").time())
                closing = datetime.combine(day, datetime.strptime(opening[1], "%H:%M").time())
                while cursor + step <= closing:
                    yield cursor
                    cursor += step
            day += timedelta(days=DATA["sessions"])

    def _when(self) -> dict:
        start = next(self.slots)
        return {
            "dentist": str(self.rng.choice(DATA["dentists"])),
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration": str(DATA["slot_minutes"]),
            "confirm_holiday": "y",
        }

    # --- reads (~70 %) ---------------------------------------------------------------------------------------

    @task(20)
    def search(self) -> None:
        term = self.rng.choice(DATA["terms"])
        headers = {"HX-Request": "true", "HX-Target": "patient-results"}
        self.client.get(f"/patients?q={term}", headers=headers, name="search")

    @task(14)
    def open_record(self) -> None:
        self.patient = self.rng.choice(DATA["patients"])
        self.client.get(f"/patients/{self.patient}", name="open record")

    @task(14)
    def record_tab(self) -> None:
        """Another tab of the record this session has open (as staff click through one patient's tabs)."""
        if self.patient is None:
            return self.open_record()
        tab = self.rng.choice(TABS)
        headers = {"HX-Request": "true", "HX-Target": "record-tabs"}
        self.client.get(f"/patients/{self.patient}/{tab}", headers=headers, name=f"tab {tab}")

    @task(11)
    def agenda_day(self) -> None:
        day = date.fromisoformat(DATA["today"]) + timedelta(days=self.rng.randrange(0, 7))
        self.client.get(f"/agenda?date={day.isoformat()}", name="agenda day")

    @task(11)
    def dashboard(self) -> None:
        self.client.get("/", name="dashboard")

    # --- writes (~30 %) --------------------------------------------------------------------------------------

    @task(7)
    def register_patient(self) -> None:
        values = {
            "full_name": f"Paciente Carga {self.number} {len(self.patients) + 1}",
            "phone": "(11) 98765-4321",
            "sex": self.rng.choice(("F", "M")),
            "notes": "",
        }
        with self.client.post(
            "/patients/new",
            data={**values, "csrf_token": self.token},
            name="register patient",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            found = PATIENT_PATH.search(response.headers.get("Location", "")) if response.status_code == 302 else None
            if found:
                self.patients.append((int(found.group(1)), values))
            else:
                response.failure(failure_kind(response))

    @task(6)
    def edit_patient(self) -> None:
        if not self.patients:
            return self.register_patient()
        patient_id, values = self.rng.choice(self.patients)
        values["notes"] = f"Atualizado {self.rng.randrange(10**6)}"
        with self.client.post(
            f"/patients/{patient_id}/edit",
            data={**values, "csrf_token": self.token},
            name="edit patient",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(failure_kind(response))

    @task(7)
    def book(self) -> None:
        if not self.patients:
            return self.register_patient()
        patient_id, _values = self.rng.choice(self.patients)
        form = {**self._when(), "patient_id": str(patient_id), "notes": ""}
        with self.client.post(
            "/agenda/book", data=form, headers=self.htmx, name="book appointment", catch_response=True
        ) as response:
            found = BOOKED.search(response.text or "")
            if response.status_code == 200 and found:
                self.appointments.append(int(found.group(1)))
            else:
                response.failure(failure_kind(response))

    @task(5)
    def move(self) -> None:
        if not self.appointments:
            return self.book()
        appointment_id = self.rng.choice(self.appointments)
        with self.client.post(
            f"/agenda/{appointment_id}/move",
            data=self._when(),
            headers=self.htmx,
            name="move appointment",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or not response.headers.get("HX-Trigger"):
                response.failure(failure_kind(response))

    @task(5)
    def record_payment(self) -> None:
        plan_id = self.rng.choice(self.plans)
        form = {"method": self.rng.choice(("pix", "cash", "debit")), "amount": "1,00", "installment": ""}
        with self.client.post(
            f"/payments/plans/{plan_id}/pay",
            data=form,
            headers={**self.htmx, "HX-Target": f"plan-{plan_id}"},
            name="record payment",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "registrado" not in (response.text or ""):
                response.failure(failure_kind(response))
