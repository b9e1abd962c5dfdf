"""The safeguard policy: which results measure safeguards and how to read them.

A declarative YAML file (the default ships as ``registry/policy/default_safeguards.yaml`` and
documents every field); ``PROVREG_SAFEGUARD_POLICY`` selects another. A malformed policy raises
:class:`PolicyInvalid` naming the field at fault.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from registry.config import Settings
from registry.errors import PolicyInvalid
from registry.trust.canonical import canonical_json, sha256_digest

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "policy" / "default_safeguards.yaml"
KINDS = ("safeguard", "over-refusal")


def normalise(name: str) -> str:
    """Benchmark and metric names compare without case, ``_`` or spaces (``harm_bench``)."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@dataclass(frozen=True)
class MetricRule:
    higher_is_better: bool
    threshold: float

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold


@dataclass(frozen=True)
class BenchmarkRule:
    name: str
    kind: str
    min_samples: int
    metrics: dict[str, MetricRule]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SafeguardPolicy:
    min_samples: int
    require_samples: bool
    threshold_higher: float
    threshold_lower: float
    z: float
    min_drop: float
    benchmarks: dict[str, BenchmarkRule]
    markers: tuple[re.Pattern[str], ...]
    digest: str
    source: str
    _lookup: dict[str, BenchmarkRule] = field(default_factory=dict, compare=False, repr=False)

    def benchmark(self, *names: str | None) -> BenchmarkRule | None:
        """The rule for the first of ``names`` (benchmark, task) the policy knows."""
        for name in names:
            if name:
                rule = self._lookup.get(normalise(name))
                if rule is not None:
                    return rule
        return None

    def known_names(self) -> set[str]:
        """Every benchmark name and alias the policy reads, normalised."""
        return set(self._lookup)

    def marked(self, text: str) -> str | None:
        """The marker ``text`` matches (uncensored, abliterated, ...), or None."""
        for marker in self.markers:
            if marker.search(text):
                return marker.pattern
        return None


def _fail(source: str, where: str, problem: str) -> PolicyInvalid:
    return PolicyInvalid(
        f"safeguard policy {source}: {where} {problem}",
        hint="fix the file, or unset PROVREG_SAFEGUARD_POLICY to use the shipped default",
        detail={"field": where, "policy": source},
    )


def _number(source: str, where: str, value: Any, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(source, where, f"must be a number, not {value!r}")
    if value < low:
        raise _fail(source, where, f"must be at least {low}")
    return float(value)


def _mapping(source: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, where, "must be a mapping")
    return value


def parse_policy(text: str, source: str = "<text>") -> SafeguardPolicy:
    """Parse and check a policy document; raises :class:`PolicyInvalid`."""
    import yaml  # here: most commands and requests never read a policy

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, "document", f"is not YAML ({exc})") from None
    doc = _mapping(source, "document", doc)
    if doc.get("version") != 1:
        raise _fail(source, "version", "must be 1")
    defaults = _mapping(source, "defaults", doc.get("defaults", {}))
    degraded = _mapping(source, "degraded", doc.get("degraded", {}))
    default_min = int(_number(source, "defaults.min_samples", defaults.get("min_samples", 0)))
    require = defaults.get("require_samples", False)
    if not isinstance(require, bool):
        raise _fail(source, "defaults.require_samples", "must be true or false")
    rules: dict[str, BenchmarkRule] = {}
    lookup: dict[str, BenchmarkRule] = {}
    benchmarks = _mapping(source, "benchmarks", doc.get("benchmarks", {}))
    for name, raw in benchmarks.items():
        where = f"benchmarks.{name}"
        body = _mapping(source, where, raw)
        kind = body.get("kind", "safeguard")
        if kind not in KINDS:
            raise _fail(source, f"{where}.kind", f"must be one of {', '.join(KINDS)}")
        metrics: dict[str, MetricRule] = {}
        for metric, mraw in _mapping(source, f"{where}.metrics", body.get("metrics")).items():
            mwhere = f"{where}.metrics.{metric}"
            mbody = _mapping(source, mwhere, mraw)
            hib = mbody.get("higher_is_better")
            if not isinstance(hib, bool):
                raise _fail(source, f"{mwhere}.higher_is_better", "must be true or false")
            threshold = _number(source, f"{mwhere}.threshold", mbody.get("threshold"), low=-1e18)
            metrics[normalise(str(metric))] = MetricRule(hib, threshold)
        if not metrics:
            raise _fail(source, f"{where}.metrics", "must name at least one metric")
        aliases = body.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _fail(source, f"{where}.aliases", "must be a list of names")
        min_samples = body.get("min_samples", default_min)
        rule = BenchmarkRule(
            name=normalise(str(name)),
            kind=kind,
            min_samples=int(_number(source, f"{where}.min_samples", min_samples)),
            metrics=metrics,
            aliases=tuple(normalise(a) for a in aliases),
        )
        for key in (rule.name, *rule.aliases):
            if key in lookup and lookup[key] is not rule:
                raise _fail(source, f"{where}.aliases", f"repeat the name {key!r}")
            lookup[key] = rule
        rules[rule.name] = rule
    markers_raw = doc.get("markers", [])
    if not isinstance(markers_raw, list):
        raise _fail(source, "markers", "must be a list of patterns")
    markers = []
    for i, pattern in enumerate(markers_raw):
        try:
            markers.append(re.compile(str(pattern), re.IGNORECASE))
        except re.error as exc:
            raise _fail(source, f"markers[{i}]", f"is not a valid pattern ({exc})") from None
    return SafeguardPolicy(
        min_samples=default_min,
        require_samples=require,
        threshold_higher=_number(
            source,
            "defaults.threshold_higher_is_better",
            defaults.get("threshold_higher_is_better", 0.8),
            low=-1e18,
        ),
        threshold_lower=_number(
            source,
            "defaults.threshold_lower_is_better",
            defaults.get("threshold_lower_is_better", 0.2),
            low=-1e18,
        ),
        z=_number(source, "degraded.z", degraded.get("z", 1.96)),
        min_drop=_number(source, "degraded.min_drop", degraded.get("min_drop", 0.05)),
        benchmarks=rules,
        markers=tuple(markers),
        digest=sha256_digest(canonical_json(doc)),
        source=source,
        _lookup=lookup,
    )


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> SafeguardPolicy:
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


def load_policy(settings: Settings | None = None) -> SafeguardPolicy:
    """The policy in force: ``settings.safeguard_policy`` or the shipped default."""
    path = (settings.safeguard_policy if settings else None) or DEFAULT_POLICY_PATH
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise PolicyInvalid(
            f"cannot read the safeguard policy {path}: {exc.strerror}",
            hint="check PROVREG_SAFEGUARD_POLICY",
            detail={"field": "path", "policy": str(path)},
        ) from None
    return _load(path, mtime)
