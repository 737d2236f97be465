"""Rules for the test suite itself: what `make test` installs is never a reason to skip a test."""

import configparser
import re
from importlib.metadata import packages_distributions
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_by_make_test() -> set[str]:
    """Distribution names `make test` installs: the package, its requirements and its `train`, `app` and `dev`
    extras."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["options"]["install_requires"].splitlines()
    for extra in ("train", "app", "dev"):
        lines += setup["options.extras_require"][extra].splitlines()
    names = {re.match(r"[A-Za-z0-9_.-]+", line.strip()).group(0) for line in lines if line.strip()}
    return {_normalized(name) for name in names | {setup["metadata"]["name"]}}


def test_no_importorskip_on_a_dependency_that_make_test_installs():
    """`pytest.importorskip` on such a module would turn a broken install (or a broken module of ours) into a skip."""
    installed = installed_by_make_test()
    providers = packages_distributions()
    offending = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for module in re.findall(r"importorskip\(\s*[\"']([\w.]+)[\"']", path.read_text()):
            top = module.split(".")[0]
            distributions = {_normalized(name) for name in providers.get(top, [top])}
            if distributions & installed:
                offending.append(f"{path.relative_to(ROOT)}: importorskip({module!r})")
    assert installed >= {"arvideo-hf", "torch", "decord", "av", "datasets", "pillow", "matplotlib", "pytest", "gradio",
                         "playwright"}
    assert not offending, "import these directly so a failed import fails the run: " + "; ".join(offending)
