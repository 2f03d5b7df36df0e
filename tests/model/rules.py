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
- A calibration that names a reference standard unknown or the item itself is refused. The
  standard must measure what was read (a tolerance of its own in the unit of the results; given
  none, in the unit of one of the item's tolerances; results [] or an item with no tolerance
  read nothing), and must have been fit for use when the calibration was made: at its
  timestamp, or, dated by day alone, as that day ended (now, for today). Used now, it must be
  ready now; at a past instant it is judged from the history: its calibration then (the
  latest dated on or before that day that counts, in tolerance, valid that day under the
  interval in force), neither out of service nor sent out then (a period ends when the return
  or the calibration ending it is entered), and its checks then (the last of each procedure
  performed at or before that instant, a pass suspect when recorded not counted: a required
  one passed, not made suspect since, and within its window, none failed). Otherwise the record is suspect: in tolerance as left, it
  proves nothing (the item is as it was, the record is history and not counted); out of
  tolerance as left, it fails the item as any failure does.
- A calibration with an as-found value outside the tolerance (suspect or not) is a finding:
  every check and calibration made with that item since its last good calibration (in
  tolerance, not suspect; from that instant where written with a time of day, else from the
  start of its day; from the beginning with none) becomes suspect. A check that is its item's
  last of that procedure counts as not done (a required one no longer makes it ready); a
  calibration that is its item's calibration on record fails the item (cleared only by a new
  calibration that re-measures it), and what was verified with that item from the start of
  that calibration's day until its next calibration was entered is followed in turn (an item
  reached again through a later suspect calibration is followed on from where it was followed
  until, so each record is listed once). (When the item is judged as a
  reference at a past instant, a calibration made suspect later still counts there, the
  README says nothing of it; a pass of a required check made suspect later counts as not
  done, as it does now: "a suspect pass counts as not done".)
- Review lists (ISO/IEC 17025 §7.10): a failed check lists the jobs (ClientPO and decision
  instant, oldest first) tested with its item since that procedure last passed (a pass suspect
  when recorded or made suspect since does not count; with none, every job), whatever came
  between; a finding lists the jobs tested with the item since its window opened, and, for
  each record in the chain in the order followed (the checks made with an item by time, then
  its calibrations by day, each followed down before the next), its item, its depth and the
  jobs that rested on it: tested on that item since the check's instant until its next check
  of that procedure, or since the start of the calibration's day until its next calibration
  was entered.
- An item a contract in force once named and none names now is retired: its status is
  unknown (not ready) and it is listed by no status; a check, a tag-out, a return, a send-out of
  it are refused, and so is it as a reference. Its calibration can still be recorded, with the
  certificate's as_found_in_tolerance (required for it, refused for an item in force); its
  results are kept as given, the item's state stays as it was, and stated out of tolerance it
  is a finding like any other (the chain above, from its last good calibration). Named again,
  it has its state back.
- Results are judged under the terms in force: at each adoption of a contract, an item in
  force with a tolerance, a calibration and no failure is failed when its latest calibration on
  record (a retired one too; not a suspect one in tolerance) left a value outside the tolerance
  now in force. The last check of each procedure keeps what it read: it passes only while its
  answers meet the procedure in force (a raised limit, an added step it did not answer make it
  no pass until a new one passes); a check recorded as failed stays failed. What a check did
  when recorded (a verification, a tag-out, the last pass a review counts from, a reference's
  check at a past instant) is as recorded.
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

    def __init__(self, step, low=None, required=True, oos=False, accepts=None, extra=()):
        self.step, self.low, self.required, self.oos, self.accepts = step, low, required, oos, accepts
        self.extra = tuple(extra)  # checkbox steps besides (a redeploy may add them)

    def passes(self, value, extra):
        """Whether answers pass this procedure as it stands: the main step taken and within its
        limit (a checkbox attested), every extra step attested; `extra`: {step: True/False}."""
        if value is None or (value is not True if self.low is None else value < self.low):
            return False
        return all(extra.get(x) is True for x in self.extra)


class Item:
    def __init__(self, interval, warning, tolerance=None, daily_check=None, last=None, kind=None,
                 procedures=None):
        self.interval = interval
        self.warning = warning
        self.tolerance = tolerance  # (parameter, lo, hi) or None; every tolerance is in volts
        self.daily_check = daily_check  # (procedure_id, step_id, min) or None
        self.last = last  # (date 'YYYY-MM-DD', certificate) from the contract, or None
        self.kind = kind  # its equipment_type
        self.procedures = {}  # procedure_id -> Procedure
        if daily_check:
            self.procedures[daily_check[0]] = Procedure(daily_check[1], daily_check[2])
        for proc, spec in (procedures or {}).items():
            self.procedures[proc] = Procedure(**spec)


def measures(item):
    """The unit an item is calibrated for (a tolerance of its own), or None."""
    return "V" if item.tolerance else None


class Record:
    """One calibration on record, for the history: its day and instant (None for a date),
    certificate, reference standard (or None), whether it left the item in tolerance, and
    whether it counts (a suspect one in tolerance does not)."""

    def __init__(self, item, day, seq, instant, certificate, ref, good, counts):
        self.item, self.day, self.seq, self.instant = item, day, seq, instant
        self.certificate, self.ref, self.good, self.counts = certificate, ref, good, counts


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
        self.known = set(items)  # every item a contract in force has named
        self.tests = []  # (instant, clientpo, ids) of every test allowed
        self.marked = set()  # seq of the checks made suspect by a finding since
        self.answers = []  # the review lists the answers gave, in order: (topic, data)
        # History, for judging an item as a reference at a past instant:
        self.seq = 0  # the order things were recorded in
        self.cal_history = {}  # id -> [Record]: every calibration on record, in order
        self.away = {}  # id -> [(since, until)]: ended periods out of service or sent out
        self.check_history = {}  # (id, procedure) -> [(instant, seq, passed, suspect, ref)]
        for i, item in self.items.items():
            if item.last:
                day = dt.date.fromisoformat(item.last[0])
                self.cal[i] = Calibration(day, None, item.last[1], False)
                self.certs[i].add(item.last[1])
                self.remember_calibration(i, day, None, item.last[1], None, good=True,
                                          counts=True)

    def remember_calibration(self, i, day, instant, certificate, ref, good, counts, results=None,
                             recorded=None):
        """good: it left the item in tolerance; counts: not a suspect one in tolerance (which
        proves nothing); recorded: the instant it was entered (None: the contract's at the
        start)."""
        self.seq += 1
        record = Record(i, day, self.seq, instant, certificate, ref, good, counts)
        record.results, record.recorded = results, recorded
        self.cal_history.setdefault(i, []).append(record)

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
            # The last check keeps what it read and is judged under the procedure in force.
            passes = bool(last) and last[1] and spec.passes(*last[3])
            if spec.required:  # a pass made suspect since counts as not done
                ready = (ready and passes and not last[2]
                         and self.day_of(last[0]) == self.today(at))
            else:
                ready = ready and not (last and not passes)
        return s, ready

    def reference_fit(self, ref, spec, at):
        """None: refused (unknown); else whether it was fit for the procedure at `at`, the
        instant of the check it served (not the clock before that event)."""
        if ref not in self.items:
            return None
        if spec.accepts is None or self.items[ref].kind not in spec.accepts:
            return False
        return self.status(ref, at)[1]  # in calibration, in service, its own checks done

    def fit_then(self, ref, at):
        """Whether item `ref` was fit for use at instant `at` (before now), from the history:
        its calibration then (the latest dated on or before that day that counts, in tolerance
        and valid that day under the interval in force), neither out of service nor sent out
        then, and its checks then (each required one passed and within its window, none failed
        and not yet passed again; a suspect pass counts as not done)."""
        item = self.items[ref]
        day = self.day_of(at)
        then = [c for c in self.cal_history.get(ref, []) if c.day <= day and c.counts]
        if not then:
            return False
        last = max(then, key=lambda c: (c.day, c.seq))
        if not last.good or day > last.day + dt.timedelta(days=item.interval):
            return False
        periods = list(self.away.get(ref, []))
        for since in (self.tagged_out.get(ref), self.sent_out.get(ref)):
            if since is not None:
                periods.append((since, None))
        if any(since <= at and (until is None or at < until) for since, until in periods):
            return False
        for proc, spec in item.procedures.items():
            done = [c for c in self.check_history.get((ref, proc), [])
                    if c[0] <= at and not (c[2] and c[3])]
            if not done:
                if spec.required:
                    return False
                continue
            instant, seq, passed, _, _ = max(done, key=lambda c: (c[0], c[1]))
            if not passed:
                return False
            if spec.required and seq in self.marked:
                return False  # a pass made suspect since: not done
            if spec.required and at >= self.day_start(self.day_of(instant) + dt.timedelta(days=1)):
                return False  # a daily check: valid through the station day it was done
        return True

    def standard_fit(self, ref, i, results, day, instant, t):
        """None: refused (unknown, or the item itself); else whether `ref` was fit as the
        reference standard of item i's calibration: it measures what was read (a tolerance of
        its own in the unit of the results given; given none, in the unit of one of the item's
        tolerances; results [] read nothing) and was fit for use when the calibration was made
        (a timestamp: that instant; a date alone: as that day ended, or now for today)."""
        if ref == i or ref not in self.items:
            return None
        item = self.items[i]
        if item.tolerance and results != [] and measures(self.items[ref]) != measures(item):
            return False
        at = instant if instant is not None else min(
            self.day_start(day + dt.timedelta(days=1)) - dt.timedelta(milliseconds=1), t)
        if at >= t:
            return self.status(ref, t)[1]  # used now: ready now, as for a test
        return self.fit_then(ref, at)

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
        if allowed:
            self.tests.append((t, clientpo, set(required)))
        return allowed, items

    def query(self, equipment_id=None):
        ids = [equipment_id] if equipment_id else sorted(self.items)
        return {i: self.status(i) for i in ids}

    def is_replay(self, i, certificate):
        return i in self.known and certificate in self.certs.get(i, ())

    def calibrate(self, t, i, date_text, certificate, results, ref=None, stated=None):
        """results: None or [(parameter, as_found or None, as_left or None)]; ref: the
        reference_standard, or None; stated: the certificate's as_found_in_tolerance, or
        None."""
        if i not in self.known or (stated is None) == (i not in self.items):
            return False  # never known; or a statement for an item in force, or none for a retired one
        day, instant = self.cal_day(date_text)
        if (instant is not None and instant > t) or (instant is None and day > self.today(t)):
            return False  # in the future
        if i not in self.items:
            return self.calibrate_retired(t, i, day, instant, certificate, ref, stated, results)
        item = self.items[i]
        if results and not item.tolerance:
            return False  # nothing to judge them against
        if i in self.cal and day < self.cal[i].day:
            return False  # older than the one on record
        fit = True
        if ref is not None:
            fit = self.standard_fit(ref, i, results, day, instant, t)
            if fit is None:
                return False
        left_out, covered = False, not item.tolerance  # an item with no tolerance: nothing to cover
        found_out = False  # a measured as-found value outside: a finding
        for parameter, found, left in results or []:
            value = left if left is not None else found
            _, lo, hi = item.tolerance
            left_out = left_out or not (lo <= value <= hi)
            found_out = found_out or (found is not None and not (lo <= found <= hi))
            covered = True  # the item's one point has a value as left (or as found)
        was_failed = i in self.cal and self.cal[i].failed
        failed = left_out or (was_failed and not covered)
        self.certs.setdefault(i, set()).add(certificate)
        if not fit and not left_out:
            # Suspect: a result in tolerance proves nothing (the item is as it was); one out of
            # tolerance as left would still fail it.
            self.remember_calibration(i, day, instant, certificate, ref, good=True, counts=False,
                                      results=results, recorded=t)
            if found_out:
                self.impact(i, *self.suspect_window(i))
            return True
        self.cal[i] = Calibration(day, instant, certificate, failed)
        window = self.suspect_window(i) if found_out else None
        self.remember_calibration(i, day, instant, certificate, ref, good=not failed, counts=True,
                                  results=results, recorded=t)
        if i in self.sent_out:
            start = instant if instant is not None else self.day_start(day)
            if start > self.sent_out[i]:
                self.away.setdefault(i, []).append((self.sent_out.pop(i), t))
        if not failed:
            # Performed at its instant, or, dated by day alone, at the start of that day.
            self.verify(i, instant if instant is not None else self.day_start(day))
        if found_out:
            self.impact(i, *window)
        return True

    def calibrate_retired(self, t, i, day, instant, certificate, ref, found_in, results):
        """A retired item: no tolerance in force judges its results (kept as given); its
        conformity as found is the certificate's statement. Recorded (the item stays retired,
        its calibration on record unchanged); stated out of tolerance, it is a finding like any
        other. A reference not fit makes it suspect, not void: a failure can always be
        recorded."""
        if i in self.cal and day < self.cal[i].day:
            return False  # older than the one on record
        fit = True
        if ref is not None:
            if ref == i or ref not in self.items:
                return False  # unknown, or itself: refused
            at = instant if instant is not None else min(
                self.day_start(day + dt.timedelta(days=1)) - dt.timedelta(milliseconds=1), t)
            fit = self.status(ref, t)[1] if at >= t else self.fit_then(ref, at)
        window = self.suspect_window(i)
        self.certs.setdefault(i, set()).add(certificate)
        self.remember_calibration(i, day, instant, certificate, ref, good=found_in,
                                  counts=fit or not found_in, results=results, recorded=t)
        if not found_in:
            self.impact(i, *window)
        return True

    # -- a reference found out of tolerance -------------------------------------------------
    def suspect_window(self, i):
        """(since instant, since day) of the work a finding on item i makes suspect: from its
        last good calibration on record (in tolerance, not suspect; the latest dated, of one
        day the one written with a time of day, from that instant, else from the start of the
        day), or from the beginning with none."""
        good = [c for c in self.cal_history.get(i, []) if c.good and c.counts]
        if not good:
            return dt.datetime.min.replace(tzinfo=UTC), dt.date.min
        last = max(good, key=lambda c: (c.day, c.instant is not None,
                                        c.instant or dt.datetime.min.replace(tzinfo=UTC)))
        return (last.instant if last.instant is not None else self.day_start(last.day)), last.day

    def jobs_with(self, i, since, until=None):
        """The review list: [(clientpo, instant)] of the tests allowed with item i since
        `since` (and before `until`, None: no end), oldest first."""
        return [(po, t) for t, po, items in self.tests
                if i in items and t >= since and (until is None or t < until)]

    def impact(self, i, since, since_day):
        """A finding on item i: the jobs tested with it since the window opened, and the chain
        (oot.impact's clientpos and chain), kept in self.answers."""
        jobs = self.jobs_with(i, since)
        chain = []
        self.follow_chain(i, since, since_day, None, None, {}, chain, 1)
        self.answers.append(("oot.impact", {"clientpos": jobs, "chain": chain}))

    def follow_chain(self, x, since, since_day, until, resume, followed, chain, depth):
        """Every check and calibration made with x since the window opened (and before `until`,
        None: no end) becomes suspect: a check that is its item's last of that procedure counts
        as not done; a calibration that is its item's current one fails the item (until a new
        calibration re-measures it), and what was verified with that item from the start of
        that calibration's day until its next calibration was entered is followed in turn. An
        item reached again through a later suspect calibration is followed on from where its
        work was followed until (`resume`: a calibration dated before it was listed then);
        `followed`: item -> the instant its work was followed until (None: no end)."""
        followed[x] = until
        before = lambda at: until is None or at < until  # noqa: E731
        checks = sorted(((instant, seq, i, proc) for (i, proc), history in
                         self.check_history.items() for instant, seq, _, _, ref in history
                         if ref == x and instant >= since and before(instant)))
        for instant, seq, i, proc in checks:
            self.marked.add(seq)
            last = self.check.get((i, proc))
            if last and last[0] == instant:
                self.check[(i, proc)] = (last[0], last[1], True, last[3])
            # The jobs that rested on it: until its item's next check of that procedure.
            after = [c[0] for c in self.check_history[(i, proc)] if c[0] > instant]
            chain.append((i, depth, self.jobs_with(i, instant, min(after) if after else None)))
        made = sorted((c for cs in self.cal_history.values() for c in cs
                       if c.ref == x and c.day >= since_day and before(self.day_start(c.day))
                       and (resume is None or self.day_start(c.day) >= resume)),
                      key=lambda c: (c.day, c.seq))
        for c in made:
            y = c.item
            start = self.day_start(c.day)
            # Its item's next calibration entered ends both the jobs that rested on it and what
            # is followed down through it.
            later = [r.recorded for r in self.cal_history.get(y, [])
                     if r.seq > c.seq and r.day >= c.day]
            nxt = min(later) if later else None
            chain.append((y, depth, self.jobs_with(y, start, nxt)))
            if y in self.cal and self.cal[y].certificate == c.certificate:
                self.cal[y].failed = True
            if y not in followed:
                self.follow_chain(y, start, c.day, nxt, None, followed, chain, depth + 1)
            elif followed[y] is not None and (nxt is None or followed[y] < nxt):
                self.follow_chain(y, max(start, followed[y]), c.day, nxt, followed[y], followed,
                                  chain, depth + 1)

    def maintenance_check(self, t, i, procedure, value, ref=None, extra=None):
        """value: the reading (or True/False for a checkbox), None when not taken; extra:
        {step: True/False} for the other checkbox steps answered."""
        item = self.items.get(i)
        spec = item.procedures.get(procedure) if item else None
        if not spec or ref == i:
            return False
        fit = True
        if ref is not None:
            fit = self.reference_fit(ref, spec, t)
            if fit is None:
                return False
        extra = dict(extra or {})
        passed = spec.passes(value, extra)
        self.seq += 1
        self.check_history.setdefault((i, procedure), []).append(
            (t, self.seq, passed, not fit, ref))
        if passed and not fit:
            return True  # a suspect pass: history only
        self.check[(i, procedure)] = (t, passed, False, (value, extra))
        cause = self.cause.get(i) if i in self.tagged_out else None
        if passed and (cause is None or cause == procedure):
            self.verify(i, t)
        if not passed and spec.oos and i not in self.tagged_out:
            self.tagged_out[i] = t
            self.cause[i] = procedure
        if not passed:  # the jobs tested since that procedure last passed (not suspect)
            passes = [c[0] for c in self.check_history[(i, procedure)]
                      if c[2] and not c[3] and c[1] not in self.marked]
            since = max(passes) if passes else dt.datetime.min.replace(tzinfo=UTC)
            self.answers.append(("review", {"clientpos": self.jobs_with(i, since)}))
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
        self.away.setdefault(i, []).append((self.tagged_out.pop(i), t))
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
        self.known |= set(items)  # an item no contract in force names now is retired
        for i, item in self.items.items():
            if not item.last:
                continue
            day = dt.date.fromisoformat(item.last[0])
            if i in self.cal and day <= self.cal[i].day:
                continue
            was_failed = i in self.cal and self.cal[i].failed
            self.cal[i] = Calibration(day, None, item.last[1], was_failed)
            self.certs.setdefault(i, set()).add(item.last[1])
            self.remember_calibration(i, day, None, item.last[1], None, good=not was_failed,
                                      counts=True, recorded=t)
        self.rejudge()
        return True

    def rejudge(self):
        """Results are judged under the terms in force: at each adoption, an item in force
        with a tolerance, a calibration on record and not failed is failed when its latest
        calibration on record (whatever it did to the item: one recorded while it was retired
        too; not a suspect one in tolerance) left a value (as left, else as found) outside the
        tolerance now in force."""
        for i, item in self.items.items():
            if not item.tolerance or i not in self.cal or self.cal[i].failed:
                continue
            records = [c for c in self.cal_history.get(i, []) if c.counts or not c.good]
            if not records:
                continue
            last = max(records, key=lambda c: (c.day, c.seq))
            p, lo, hi = item.tolerance
            for parameter, found, left in last.results or []:
                value = left if left is not None else found
                if parameter == p and not (lo <= value <= hi):
                    self.cal[i].failed = True
                    break

