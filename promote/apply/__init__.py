"""Apply: carry out a plan against a target factory, and make a run safe to start and safe to lose.

- `factory_api`: `FactoryApi`, the protocol of every call a run makes on its target factory (the seam the
  unit tests fake; `promote.azure.api` implements it over the real clients).
- `executor`: a visitor over the plan's steps that does what each says, journaling every one.
- `runner`: one run per environment: lock, journal, plan inside the lock, apply, roll back on failure.
- `lock`: one promoter per environment on this machine.

The record a run leaves (journal, factory tags, the run-in-progress marker) is `promote.record`'s.
"""
