"""One module per command; each exposes `run_<command>(args) -> int` and raises `PromoteError`s."""
