"""The operations tests (a package, so the Ray head of its conftest is package-scoped: started by the first module
that asks for it and stopped when the last test of tests/ops is done)."""
