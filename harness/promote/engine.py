"""The promotion itself: gate, preflight, plan, upload with retries, index, journal.

Order, so that a refusal never leaves anything half-done:
1. the gate (report + sha256 pins) and, for PyPI targets, what PyPI would refuse;
2. ask every destination what it already has (a name clash with other content stops
   everything before the first byte is sent);
3. upload what is missing, target by target, recording each step in the journal;
4. publish (S3: project pages, then the root page).
A rerun starts again at 1; step 2 makes it skip what an interrupted run already sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from harness.errors import HarnessError, InfraError, WheelsFailed
from harness.promote import rules
from harness.promote.destination import Destination, Item, Presence, Remote, TransientError
from harness.promote.gate import GateResult
from harness.promote.journal import FileEntry, FileState, IndexEntry, Journal, now
from harness.promote.policy import Policy
from harness.promote.targets import Target, TargetKind
from harness.redact import Redactor


class Action(StrEnum):
    UPLOAD = "upload"
    SKIP = "skip"  # already there with the same sha256
    EXCLUDED = "excluded"  # the target's policy keeps this file away from it


class Outcome(StrEnum):
    PLANNED = "planned"
    UPLOADED = "uploaded"
    PRESENT = "present"
    FAILED = "failed"
    PENDING = "pending"  # not reached (an earlier failure stopped the run)
    EXCLUDED = "excluded"  # never sent: the target's policy


@dataclass(frozen=True, kw_only=True)
class Refusal:
    filename: str
    reasons: tuple[str, ...]


@dataclass(kw_only=True)
class Step:
    """One file to one target. Mutable: the engine fills in the outcome as it goes."""

    target: Target
    item: Item
    action: Action
    outcome: Outcome = Outcome.PLANNED
    location: str = ""
    duration_s: float = 0.0
    attempts: int = 0
    error: str | None = None
    reason: str = ""  # the per-target policy's why (excluded by / included by ...)


@dataclass(kw_only=True)
class Promotion:
    steps: list[Step] = field(default_factory=list)
    indexes: list[tuple[str, str]] = field(default_factory=list)  # (target, key)
    refusals: list[Refusal] = field(default_factory=list)  # what a destination will refuse


def items_from_gate(gate: GateResult) -> list[Item]:
    items: list[Item] = []
    for f in gate.files:
        source = f.source  # the private copy taken at the gate: hashed once, sent as is
        if not f.ok or source is None or f.current_sha256 is None or f.size is None:
            raise AssertionError(f"{f.filename}: not through the gate")
        try:
            meta = rules.read_meta(source)
            requires: str | None = meta.requires_python
        except ValueError:
            requires = None
        items.append(
            Item(
                filename=f.filename,
                path=source,
                sha256=f.current_sha256,
                size=f.size,
                project=rules.project_name(f.filename),
                requires_python=requires,
            )
        )
    return items


def refusals(
    gate: GateResult, targets: Sequence[Target], policy: Policy | None = None
) -> list[Refusal]:
    """Per file: the gate's reasons, plus what PyPI would refuse when a PyPI target gets it
    (a file the policy keeps away from every PyPI target is not held to PyPI's rules)."""
    policy = policy or Policy()
    pypi = [t.label for t in targets if t.kind is TargetKind.PYPI and t.pypi_rules]
    out: list[Refusal] = []
    for f in gate.files:
        reasons = list(f.reasons)
        source = f.source
        labels = [label for label in pypi if policy.goes(label, f.filename)]
        if f.ok and source is not None and labels:
            reasons += [f"{r} (--to {', '.join(labels)})" for r in rules.pypi_refusals(source)]
        if reasons:
            out.append(Refusal(filename=f.filename, reasons=tuple(reasons)))
    return out


Progress = Callable[[Step], None]


class Engine:
    def __init__(
        self,
        *,
        destinations: Sequence[Destination],
        journal: Journal | None,
        redact: Redactor,
        retries: int = 3,
        backoff_s: float = 1.0,
        progress: Progress = lambda step: None,
        sleep: Callable[[float], None] = time.sleep,
        policy: Policy | None = None,
    ) -> None:
        self.policy: Policy = policy or Policy()
        self.destinations = destinations
        self.journal = journal
        self.redact = redact
        self.retries = retries
        self.backoff_s = backoff_s
        self.progress = progress
        self.sleep = sleep

    def plan(self, items: Sequence[Item]) -> Promotion:
        """Ask every destination about every file. What a destination will refuse (a name
        taken by other content; warehouse's own rules) becomes a per-file refusal in
        ``promotion.refusals``: the caller sends nothing when there is any."""
        promotion = Promotion()
        refused: dict[str, list[str]] = {}
        for dest in self.destinations:
            for item in items:
                decision = self.policy.decide(dest.target.label, item.filename)
                if not decision.goes:
                    promotion.steps.append(
                        Step(
                            target=dest.target,
                            item=item,
                            action=Action.EXCLUDED,
                            outcome=Outcome.EXCLUDED,
                            reason=decision.why,
                        )
                    )
                    continue
                presence = self._check(dest, item)
                reasons = []
                if presence.remote is Remote.DIFFERENT:
                    reasons.append(
                        f"already exists there with other content (sha256 {presence.detail}, "
                        f"ours {item.sha256}); a file name is never reused: bump the version "
                        "or add a build tag"
                    )
                reasons += dest.refusals(item, presence)
                if reasons:
                    label = dest.target.label
                    refused.setdefault(item.filename, []).extend(
                        f"{r} (--to {label})" for r in reasons
                    )
                    continue
                action = Action.SKIP if presence.remote is Remote.SAME else Action.UPLOAD
                promotion.steps.append(
                    Step(
                        target=dest.target,
                        item=item,
                        action=action,
                        location=presence.location,
                        reason=decision.why,
                    )
                )
        promotion.refusals = [
            Refusal(filename=name, reasons=tuple(reasons)) for name, reasons in refused.items()
        ]
        return promotion

    def _check(self, dest: Destination, item: Item, *, fresh: bool = False) -> Presence:
        for attempt in range(self.retries + 1):
            try:
                return dest.check(item, fresh=fresh)
            except TransientError as exc:
                if attempt == self.retries:
                    raise InfraError(
                        self.redact(f"{dest.target.label}: asking about {item.filename}: {exc}")
                    ) from None
                self.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def execute(self, promotion: Promotion) -> None:
        for dest in self.destinations:
            steps = [
                s
                for s in promotion.steps
                if s.target is dest.target and s.action is not Action.EXCLUDED
            ]
            for step in steps:
                if step.action is Action.SKIP:
                    step.outcome = Outcome.PRESENT
                    self._record(step, FileState.PRESENT)
                    self.progress(step)
                    continue
                self._upload(dest, step)
            for key, digest in self._finish(dest, [s.item for s in steps]):
                promotion.indexes.append((dest.target.label, key))
                if self.journal is not None:
                    self.journal.record_index(
                        IndexEntry(target=dest.target.label, key=key, sha256=digest, at=now())
                    )

    def _finish(self, dest: Destination, items: Sequence[Item]) -> list[tuple[str, str]]:
        """Publish (S3 index pages); idempotent, so simply retried as a whole."""
        for attempt in range(self.retries + 1):
            try:
                return dest.finish(items)
            except TransientError as exc:
                if attempt == self.retries:
                    raise InfraError(
                        self.redact(
                            f"{dest.target.label}: writing the index: {exc}; every file is "
                            "uploaded, run the same command again to publish the index"
                        )
                    ) from None
                self.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _upload(self, dest: Destination, step: Step) -> None:
        started = time.monotonic()
        last = ""
        for attempt in range(self.retries + 1):
            step.attempts = attempt + 1
            self._record(step, FileState.UPLOADING)
            try:
                step.location = dest.put(step.item)
            except TransientError as exc:
                last = self.redact(str(exc))
                # It may have landed anyway (the answer was lost): ask before resending.
                presence = self._check(dest, step.item, fresh=True)
                if presence.remote is Remote.SAME:
                    step.location = presence.location
                elif presence.remote is Remote.DIFFERENT:
                    self._fail(step, started, f"{last}; the destination now has other content")
                    raise WheelsFailed(
                        f"{dest.target.label}: {step.item.filename} appeared there with other "
                        "content during the upload"
                    ) from None
                elif attempt < self.retries:
                    self.sleep(self.backoff_s * 2**attempt)
                    continue
                else:
                    self._fail(step, started, last)
                    raise InfraError(
                        f"{dest.target.label}: {step.item.filename}: {last} "
                        f"(after {step.attempts} attempts); run the same command again to "
                        "resume"
                    ) from None
            except HarnessError as exc:
                exc.args = (self.redact(str(exc)),)
                self._fail(step, started, str(exc))
                raise
            except BaseException:
                # Ctrl-C, or a bug: the journal keeps "uploading"; a rerun asks the
                # destination whether it landed.
                step.outcome = Outcome.FAILED
                step.error = "interrupted"
                step.duration_s = time.monotonic() - started
                raise
            step.outcome = Outcome.UPLOADED
            step.duration_s = time.monotonic() - started
            self._record(step, FileState.UPLOADED)
            self.progress(step)
            return

    def _fail(self, step: Step, started: float, error: str) -> None:
        step.outcome = Outcome.FAILED
        step.error = error
        step.duration_s = time.monotonic() - started
        self._record(step, FileState.FAILED)
        self.progress(step)

    def _record(self, step: Step, state: FileState) -> None:
        if self.journal is None:
            return
        before = self.journal.file(step.target.label, step.item.filename)
        if (
            state is FileState.PRESENT
            and before is not None
            and before.state is FileState.UPLOADED
            and before.sha256 == step.item.sha256
        ):
            return  # keep the record of the run that actually sent it
        self.journal.record_file(
            FileEntry(
                target=step.target.label,
                filename=step.item.filename,
                sha256=step.item.sha256,
                state=state,
                location=step.location,
                at=now(),
                attempts=step.attempts,
                error=step.error if state is FileState.FAILED else None,
            )
        )
