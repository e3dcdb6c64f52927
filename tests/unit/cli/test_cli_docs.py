"""cli/README.md names only files and tests that exist (the check tests/unit/test_docs_references.py
makes for the project's other docs), and documents every exit code the CLI defines."""

from media_pipeline_cli import app as app_module
from tests.unit.test_docs_references import ROOT, problems


def test_the_cli_readme_names_only_files_and_tests_that_exist():
    assert problems("cli/README.md") == []


def test_the_cli_readme_documents_every_exit_code():
    text = (ROOT / "cli" / "README.md").read_text()
    codes = {value for name, value in vars(app_module).items() if name.startswith("EXIT_")}
    for code in codes:
        assert f"\n| {code} |" in text, code
