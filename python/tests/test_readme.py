"""The README's Python examples run as written (in a temporary directory, since they create
``jobs.db``; their URLs are never due within the test, so nothing leaves the machine). The
PostgreSQL example gets the test server as ``DATABASE_URL``."""

import re
from pathlib import Path

import pytest
from conftest import postgres_url

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uses_postgres = "DATABASE_URL" in code
    if uses_postgres:
        monkeypatch.setenv("DATABASE_URL", postgres_url())
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert (tmp_path / "jobs.db").exists() != uses_postgres
