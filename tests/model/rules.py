"""A reference model of readiness, written from the rules (README "The rules" and "Events",
issue 8 "What to build" 2-5), not from the module's code. It is deliberately small and slow:
one Python object per station, one method per input topic, each deciding whether the line is
refused and, if not, what changes.

The rules it encodes:
- Every day derived from an instant is the station's local day of that instant (the station
  here runs at a fixed utc_offset). A calibration_date is a calendar date (that day) or an
  RFC 3339 timestamp (the station's day of that instant, whatever offset the text is in).
- A calibration made on day D with an interval of N days is valid through D+N inclusive;
  days_remaining = due - today; expired when today > due; expiring_soon when
  0 <= days_remaining <= warning period; otherwise current.
- A calibration dated in the future is refused (a date after today, an instant after now);
  one dated before the day of the calibration on record is refused (history is not
  rewritten). A calibration is recorded once: one whose certificate is already on record for
  that item (a recorded one or the contract's last_calibration) is a replay and changes
  nothing. A new calibration ends "sent out" when it was performed after the send-out (a
  timestamp later than it; a date alone counts from the start of that station day, so one
  dated the day of the send-out does not end it); one performed before is recorded as history
  and the item stays pending_calibration. As left (as found where no as-left is given)
  outside a tolerance is calibration_failed. A failure is cleared only by re-measuring: a
  calibration that gives no value for a point of the item's tolerance (no results, results
  [], only another point) leaves a failed item failed, and an item not failed keeps its
  status (its calibration is renewed).
- Statuses, strongest first: out_of_service, calibration_failed, pending_calibration (sent
  out, or none on record), expired, expiring_soon, current. (The rules name the states but
  not their order where two hold at once; both orders of failed and sent out are not ready.)
  Ready: current or expiring_soon, every required check done, passed and within its window (a
  daily check: the station's day it was done), no check of any procedure failed since that
  procedure last passed (required before a test or not), and in service.
- Checks (issue 9): a step not answered is not taken, and fails. A check that names a reference
  unknown or the item itself is refused; one whose reference is not fit (not of a type the
  procedure accepts, not current or expiring soon) is recorded, suspect: a suspect pass counts
  as not done (it changes nothing), a failed step fails as any failure does. A failure of a
  procedure with on_fail out_of_service tags an item in service out, caused by that procedure.
- Out of service twice, a return of an item in service, sent out twice are refused. Return to
  service needs a verification performed after the tag-out instant: a passed check, or a
  calibration that is not failed and is dated after that instant (a timestamp later than it,
  a date after the tag-out's station day: a date-only record on the tag-out day does not
  count). Tagged out by a failed check, the passed check must be of that procedure, and that
  procedure must not have failed again at or after the last verification.
- A job's equipment is its linked set: a test start checks the linked items plus any it
  lists; a re-link replaces the set. Unknown equipment is not ready. A start with nothing
  linked and nothing listed is blocked.
- A refused line changes nothing, not even the clock; time never runs backwards.
- A contract redeploy with a changed interval applies at once; a contract whose
  last_calibration is dated after the load is refused and the set in force stays. A
  last_calibration later than the calibration on record is recorded as the item's
  calibration; it carries no results, so a failed item stays failed."""

import datetime as dt

UTC = dt.timezone.utc


def parse_instant(text):
    """RFC 3339 text -> aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Procedure:
    """A procedure on one item: a reading with a minimum (step_id, low) or a checkbox
    (low None); required before a test (then daily) or not; on_fail out_of_service or not; the
    equipment types it accepts as a reference (None: it names none, and no item of the model
    measures its unit)."""

    def __init__(self, step, low=None, required=True, oos=False, accepts=None):
        self.step, self.low, self.required, self.oos, self.accepts = step, low, required, oos, accepts


class Item:
    def __init__(self, interval, warning, tolerance=None, daily_check=None, last=None, kind=None,
                 procedures=None):
        self.interval = interval
        self.warning = warning
        self.tolerance = tolerance  # (parameter, lo, hi) or None
        self.daily_check = daily_check  # (procedure_id, step_id, min) or None
        self.last = last  # (date 'YYYY-MM-DD', certificate) from the contract, or None
        self.kind = kind  # its equipment_type
        self.procedures = {}  # procedure_id -> Procedure
        if daily_check:
            self.procedures[daily_check[0]] = Procedure(daily_check[1], daily_check[2])
        for proc, spec in (procedures or {}).items():
            self.procedures[proc] = Procedure(**spec)


class Calibration:
    def __init__(self, day, instant, certificate, failed):
        self.day = day  # the station's day of the calibration
        self.instant = instant  # the instant, for a timestamp; None for a calendar date
        self.certificate = certificate
        self.failed = failed


class Station:
    def __init__(self, utc_offset, items):
        self.offset = utc_offset  # a timedelta
        self.items = dict(items)  # id -> Item (the contract in force)
        self.now = None
        self.cal = {}  # id -> Calibration on record (the most recent)
        self.certs = {i: set() for i in items}  # certificates on record per item
        self.sent_out = {}  # id -> send-out instant
        self.tagged_out = {}  # id -> tag-out instant
        self.cause = {}  # tagged-out id -> the procedure whose failure tagged it out, or None
        self.verified_at = {}  # id -> the instant of its last verification (as the module keeps)
        self.check = {}  # (id, procedure) -> (instant, passed) of the last check that counts
        self.links = {}  # clientpo -> list of ids
        for i, item in self.items.items():
            if item.last:
                self.cal[i] = Calibration(dt.date.fromisoformat(item.last[0]), None,
                                          item.last[1], False)
                self.certs[i].add(item.last[1])

    # -- days ---------------------------------------------------------------------------
    def day_of(self, instant):
        return (instant.astimezone(UTC) + self.offset).date()

    def today(self, at=None):
        return self.day_of(at or self.now)

    def day_start(self, day):
        """The instant a station day begins (a fixed offset: its local midnight)."""
        return dt.datetime.combine(day, dt.time(), UTC) - self.offset

    def cal_day(self, text):
        """The station's day of a calibration_date, and its instant (None for a date)."""
        if len(text) == 10:
            return dt.date.fromisoformat(text), None
        instant = parse_instant(text)
        return self.day_of(instant), instant

    # -- status -------------------------------------------------------------------------
    def status(self, i, at=None):
        """The item's status and readiness at `at` (default: now)."""
        if i not in self.items:
            return "unknown", False
        item = self.items[i]
        if i in self.tagged_out:
            s = "out_of_service"
        elif i in self.cal and self.cal[i].failed:
            s = "calibration_failed"
        elif i in self.sent_out or i not in self.cal:
            s = "pending_calibration"
        else:
            remaining = (self.cal[i].day + dt.timedelta(days=item.interval) - self.today(at)).days
            if remaining < 0:
                s = "expired"
            elif remaining <= item.warning:
                s = "expiring_soon"
            else:
                s = "current"
        ready = s in ("current", "expiring_soon")
        for proc, spec in item.procedures.items():
            last = self.check.get((i, proc))
            if spec.required:
                ready = ready and bool(last) and last[1] and self.day_of(last[0]) == self.today(at)
            else:
                ready = ready and not (last and not last[1])
        return s, ready

    def reference_fit(self, ref, spec, at):
        """None: refused (unknown); else whether it was fit for the procedure at `at`, the
        instant of the check it served (not the clock before that event)."""
        if ref not in self.items:
            return None
        if spec.accepts is None or self.items[ref].kind not in spec.accepts:
            return False
        return self.status(ref, at)[1]  # in calibration, in service, its own checks done

    def verify(self, i, instant):
        if instant > self.verified_at.get(i, instant - dt.timedelta(seconds=1)):
            self.verified_at[i] = instant

    # -- events: each returns True when the line is accepted ------------------------------
    def link(self, t, clientpo, equipment):
        self.links[clientpo] = list(equipment)
        return True

    def start(self, t, clientpo, listed):
        """-> (allowed, {id: (status, ready)})"""
        required = list(self.links.get(clientpo, []))
        required += [i for i in (listed or []) if i not in required]
        items = {i: self.status(i) for i in required}
        allowed = bool(items) and all(r for _, r in items.values())
        return allowed, items

    def query(self, equipment_id=None):
        ids = [equipment_id] if equipment_id else sorted(self.items)
        return {i: self.status(i) for i in ids}

    def is_replay(self, i, certificate):
        return i in self.items and certificate in self.certs[i]

    def calibrate(self, t, i, date_text, certificate, results):
        """results: None or [(parameter, as_found or None, as_left or None)]."""
        if i not in self.items:
            return False
        item = self.items[i]
        day, instant = self.cal_day(date_text)
        if (instant is not None and instant > t) or (instant is None and day > self.today(t)):
            return False  # in the future
        if results and not item.tolerance:
            return False  # nothing to judge them against
        if i in self.cal and day < self.cal[i].day:
            return False  # older than the one on record
        left_out, covered = False, not item.tolerance  # an item with no tolerance: nothing to cover
        for parameter, found, left in results or []:
            value = left if left is not None else found
            _, lo, hi = item.tolerance
            left_out = left_out or not (lo <= value <= hi)
            covered = True  # the item's one point has a value as left (or as found)
        was_failed = i in self.cal and self.cal[i].failed
        failed = left_out or (was_failed and not covered)
        self.cal[i] = Calibration(day, instant, certificate, failed)
        self.certs[i].add(certificate)
        if i in self.sent_out:
            start = instant if instant is not None else self.day_start(day)
            if start > self.sent_out[i]:
                del self.sent_out[i]
        if not failed:
            # Performed at its instant, or, dated by day alone, at the start of that day.
            self.verify(i, instant if instant is not None else self.day_start(day))
        return True

    def maintenance_check(self, t, i, procedure, value, ref=None):
        """value: the reading (or True/False for a checkbox), None when not taken."""
        item = self.items.get(i)
        spec = item.procedures.get(procedure) if item else None
        if not spec or ref == i:
            return False
        fit = True
        if ref is not None:
            fit = self.reference_fit(ref, spec, t)
            if fit is None:
                return False
        if value is None:
            passed = False
        elif spec.low is None:
            passed = value is True
        else:
            passed = value >= spec.low
        if passed and not fit:
            return True  # a suspect pass: history only
        self.check[(i, procedure)] = (t, passed)
        cause = self.cause.get(i) if i in self.tagged_out else None
        if passed and (cause is None or cause == procedure):
            self.verify(i, t)
        if not passed and spec.oos and i not in self.tagged_out:
            self.tagged_out[i] = t
            self.cause[i] = procedure
        return True

    def out_of_service(self, t, i):
        if i not in self.items or i in self.tagged_out:
            return False
        self.tagged_out[i] = t
        self.cause[i] = None
        return True

    def return_to_service(self, t, i):
        if i not in self.items or i not in self.tagged_out:
            return False
        out, cause = self.tagged_out[i], self.cause.get(i)
        at = self.verified_at.get(i)
        if at is None or at <= out:
            return False
        last = self.check.get((i, cause)) if cause else None
        if last and not last[1] and last[0] >= at:
            return False  # that procedure failed again since its last verification
        del self.tagged_out[i]
        self.cause.pop(i, None)
        return True

    def schedule(self, t, i):
        if i not in self.items or i in self.sent_out:
            return False
        self.sent_out[i] = t
        return True

    def deploy(self, t, items):
        """A new contract set: refused when a last_calibration is dated after the load."""
        for item in items.values():
            if item.last and dt.date.fromisoformat(item.last[0]) > self.today(t):
                return False
        self.items = dict(items)
        for i, item in self.items.items():
            if not item.last:
                continue
            day = dt.date.fromisoformat(item.last[0])
            if i in self.cal and day <= self.cal[i].day:
                continue
            was_failed = i in self.cal and self.cal[i].failed
            self.cal[i] = Calibration(day, None, item.last[1], was_failed)
            self.certs.setdefault(i, set()).add(item.last[1])
        return True
