"""Running checks: the ``check`` job of a worker, and in-process for tests.

Each check's outcome becomes a ``CheckResult`` event in the run directory. A check that
raises does not stop the others: a user error (bad model code) ends it as ``error`` with
the one-line message, anything else as ``error`` with the traceback's tail. A check that
built a model whose output has the wrong shape gives the one shape message; one that did
not pass and built a model that outputs NaN/inf on some rows names those rows instead of
its own verdict; a check interrupted by a stop is ``stopped``.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from tuirecipe.checks.base import Check, Outcome, all_checks, get_check
from tuirecipe.config import Config
from tuirecipe.errors import UserError
from tuirecipe.events import CheckResult, CheckStarted, Event


def selected_checks(only: list[str] | None) -> list[type[Check]]:
    """The automatic checks to run: ``only`` (validated names) or all of them."""
    if only:
        return [get_check(name) for name in only]
    return [c for c in all_checks() if c.kind == "auto"]


def run_one(check_cls: type[Check], ctx: Any) -> CheckResult:
    """Run one check: its outcome, unless the model's output has the wrong shape, or the
    check did not pass and the model gives NaN/inf on some rows (named first, the check's
    own summary kept as evidence), or
    the check was stopped before it finished (``stopped``, never a verdict)."""
    ctx.current_check = check_cls.name
    started = time.perf_counter()
    # the precision training runs in, unless the check judges code at fp32 (Check.precision)
    autocast, precision = getattr(ctx, "autocast", None), ""
    with _counting_models(ctx) as built:
        try:
            with autocast(check_cls.precision) if autocast is not None else nullcontext():
                if autocast is not None:
                    precision = ctx.precision_of(check_cls.precision)
                outcome = check_cls().run(ctx)
        except UserError as exc:
            outcome = Outcome("error", str(exc), advice="fix the config, data or model code named")
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the checklist
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            outcome = Outcome(
                "error",
                f"{type(exc).__name__}: {exc}",
                evidence={"traceback": tail.strip().splitlines()[-25:]},
            )
            if "out of memory" in str(exc).lower():
                outcome.advice = "out of memory: try a smaller train.batch_size or data.max_len"
    if ctx.cancelled() and outcome.status != "stopped":
        outcome = Outcome(
            "stopped",
            f"stopped after {time.perf_counter() - started:.1f} s, before a verdict",
            evidence={"partial": {"status": outcome.status, "summary": outcome.summary}},
        )
    elif built:
        from tuirecipe.checks.diagnose import forward_problem

        problem = forward_problem(ctx, outcome.summary, passed=outcome.status == "pass")
        if problem is not None:
            outcome = problem
    evidence = dict(outcome.evidence)
    if precision:
        evidence.setdefault("precision", precision)
    if outcome.advice:
        evidence.setdefault("advice", outcome.advice)
    return CheckResult(
        name=check_cls.name,
        status=outcome.status,
        summary=outcome.summary,
        numbers=outcome.numbers,
        evidence=evidence,
        seconds=round(time.perf_counter() - started, 3),
    )


@contextmanager
def _counting_models(ctx: Any) -> Iterator[list[int]]:
    """While active, every ``ctx.fresh_model`` call appends to the yielded list (tests may
    replace ``fresh_model`` on the instance: that replacement is counted and kept)."""
    built: list[int] = []
    if not hasattr(ctx, "fresh_model"):
        yield built
        return
    own = "fresh_model" in vars(ctx)
    original = ctx.fresh_model

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(*args, **kwargs)

    ctx.fresh_model = counted
    vars(ctx)["_model_uses"] = built  # torchutil.cached counts a shared measurement's model
    try:
        yield built
    finally:
        vars(ctx).pop("_model_uses", None)
        if own:
            ctx.fresh_model = original
        else:
            del ctx.fresh_model


def run_checks(
    config: Config,
    only: list[str] | None = None,
    *,
    emit: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data: Any = None,
) -> list[CheckResult]:
    """Run the selected checks in this process; every event also goes to ``emit``."""
    from tuirecipe.checks.context import CheckContext

    emit = emit or (lambda event: None)
    checks = selected_checks(only)
    ctx = CheckContext(config, emit=emit, should_stop=should_stop, data=data)
    results = []
    for check_cls in checks:
        if ctx.cancelled():
            break
        emit(CheckStarted(name=check_cls.name))
        result = run_one(check_cls, ctx)
        emit(result)
        results.append(result)
    return results


def fingerprinting(config: Config, emit: Callable[[Event], None]) -> Callable[[Event], None]:
    """``emit`` with every ``CheckResult`` stamped with what it was made for under
    ``config`` (:mod:`tuirecipe.checks.fingerprint`); other events pass unchanged.

    The inputs are computed once, before any check runs, from the config and the files
    it names (the data is hashed here, not taken from the prepared data, so a result
    records the same fingerprint the console computes for the config).
    """
    import dataclasses

    from tuirecipe.checks.fingerprint import CurrentInputs

    inputs = CurrentInputs(config)

    def stamped(event: Event) -> None:
        if isinstance(event, CheckResult):
            event = dataclasses.replace(event, **inputs.stamp(event.name))
        emit(event)

    return stamped


def run_checks_job(job: Any) -> str:
    """The worker's ``check`` job; ``job.args["only"]`` may name checks."""
    only = job.args.get("only") or job.config.checks.only or None
    data = None
    # Hashing and preparing the data can take long on a big file: a stop ends it at once
    # (the worker's interruptible stretch) instead of waiting for the first check.
    with job.interruptible() if hasattr(job, "interruptible") else nullcontext():
        emit = fingerprinting(job.config, job.emit)
        try:
            from tuirecipe.data.prepare import prepare_data

            data = prepare_data(job.config)
        except UserError:
            data = None  # each check that needs the data reports why, as it always did
    results = run_checks(
        job.config,
        only,
        emit=emit,
        should_stop=lambda: job.control.stop_requested,
        data=data,
    )
    failed = [r.name for r in results if r.status in ("fail", "error")]
    job.run.write_status(checks={r.name: r.status for r in results}, failed_checks=failed)
    if job.control.stop_requested:
        return "stopped"
    return "finished"
