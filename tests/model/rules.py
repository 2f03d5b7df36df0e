"""A reference model of readiness, written from the rules (BRIEF section 4, README "The rules",
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
  daily check: the station's day it was done), and in service.
- Out of service twice, a return of an item in service, sent out twice are refused. Return to
  service needs a verification performed after the tag-out instant: a passed check, or a
  calibration that is not failed and is dated after that instant (a timestamp later than it,
  a date after the tag-out's station day: a date-only record on the tag-out day does not
  count).
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


class Item:
    def __init__(self, interval, warning, tolerance=None, daily_check=None, last=None):
        self.interval = interval
        self.warning = warning
        self.tolerance = tolerance  # (parameter, lo, hi) or None
        self.daily_check = daily_check  # (procedure_id, step_id, min) or None
        self.last = last  # (date 'YYYY-MM-DD', certificate) from the contract, or None


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
        self.verified = set()  # tagged-out items verified since their tag-out
        self.check = {}  # id -> (instant, passed) of the latest check
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
    def status(self, i):
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
            remaining = (self.cal[i].day + dt.timedelta(days=item.interval) - self.today()).days
            if remaining < 0:
                s = "expired"
            elif remaining <= item.warning:
                s = "expiring_soon"
            else:
                s = "current"
        ready = s in ("current", "expiring_soon")
        if ready and item.daily_check:
            last = self.check.get(i)
            ready = bool(last) and last[1] and self.day_of(last[0]) == self.today()
        return s, ready

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
        if i in self.tagged_out and not failed:
            out = self.tagged_out[i]
            after = instant > out if instant is not None else day > self.day_of(out)
            if after:
                self.verified.add(i)
        return True

    def maintenance_check(self, t, i, procedure, value):
        item = self.items.get(i)
        if not item or not item.daily_check or item.daily_check[0] != procedure:
            return False
        passed = value >= item.daily_check[2]
        self.check[i] = (t, passed)
        if passed and i in self.tagged_out and t > self.tagged_out[i]:
            self.verified.add(i)
        return True

    def out_of_service(self, t, i):
        if i not in self.items or i in self.tagged_out:
            return False
        self.tagged_out[i] = t
        self.verified.discard(i)
        return True

    def return_to_service(self, t, i):
        if i not in self.items or i not in self.tagged_out or i not in self.verified:
            return False
        del self.tagged_out[i]
        self.verified.discard(i)
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
