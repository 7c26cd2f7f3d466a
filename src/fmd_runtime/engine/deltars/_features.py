"""What delta-rs can do here: the ``deltalake`` releases it runs on and the features it writes.

delta-rs names the table features it lacks with its Rust enum names (``RowTracking``,
``Unknown("x-preview")``); `unsupported_features` turns its error text into the Delta protocol's
names, so a refusal names the feature as Spark and the Delta protocol do.

Example:
    >>> deltalake_version_problem("1.6.6") is None, protocol_feature_name("RowTracking")
    (True, 'rowTracking')
"""

from __future__ import annotations

import re

MIN_DELTALAKE = (1, 5, 0)
"""The oldest ``deltalake`` release the embedded engine runs on (``pyproject.toml``'s ``local``)."""
YANKED_DELTALAKE = frozenset({(1, 6, 4), (1, 6, 5)})
DV_RESTORE_DELTALAKE = (1, 6, 6)
"""RESTORE of a deletion-vector table is a silent no-op before this release (delta-rs #4613)."""
FIX = "pip install 'deltalake>=1.6.6,<2' (in a Fabric Python notebook: %pip install, with "
FIX += "_inlineInstallationEnabled on the pipeline's Notebook activity)"


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.6.6"`` -> ``(1, 6, 6)`` (missing parts are 0; suffixes ignored).

    Example:
        >>> parse_version("1.2.1"), parse_version("0.18")
        ((1, 2, 1), (0, 18, 0))
    """
    parts = [int(x) for x in re.findall(r"\d+", str(text))[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def deltalake_version_problem(version: str) -> str | None:
    """Why the embedded engine refuses this ``deltalake`` release, or None when it runs on it.

    Example:
        >>> deltalake_version_problem("1.6.6") is None
        True
        >>> deltalake_version_problem("1.2.1")
        'deltalake 1.2.1 is older than 1.5.0, the oldest release fmd_runtime runs on'
    """
    found = parse_version(version)
    if found < MIN_DELTALAKE:
        oldest = ".".join(map(str, MIN_DELTALAKE))
        return f"deltalake {version} is older than {oldest}, the oldest release fmd_runtime runs on"
    if found in YANKED_DELTALAKE:
        return f"deltalake {version} was yanked by its maintainers"
    return None


def installed_deltalake() -> str:
    """The installed ``deltalake`` version (``"0"`` when it cannot be read)."""
    try:
        import deltalake

        return str(getattr(deltalake, "__version__", "0"))
    except ImportError:
        return "0"


WRITABLE_FEATURES = frozenset(
    {
        "appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns",
        "columnMapping", "deletionVectors", "timestampNtz", "v2Checkpoint", "variantType",
        "variantType-preview",
    }
)  # fmt: skip
"""The writer features delta-rs (1.6.x) commits to; tables with any other writer feature
(``identityColumns``, ``rowTracking``, ``domainMetadata``, ``clustering``, ``inCommitTimestamp``,
``typeWidening``, ``checkpointProtection``...) are read but never written here
(tests/unit/test_deltars_features.py checks the list against the installed delta-rs)."""

# delta-rs names the features it lacks with its Rust enum names; protocol names differ for these.
_RUST_FEATURE_NAMES = {"ClusteredTable": "clustering", "TimestampWithoutTimezone": "timestampNtz"}
_UNSUPPORTED_WRITE = re.compile(r"Unsupported table features required: \[([^\]]*)\]")
_UNSUPPORTED_READ = re.compile(r"Feature '([^']+)' is not supported")


def protocol_feature_name(native: str) -> str:
    """A table feature as the Delta protocol names it, from delta-rs' error text.

    Example:
        >>> protocol_feature_name("IdentityColumns"), protocol_feature_name('Unknown("x-preview")')
        ('identityColumns', 'x-preview')
        >>> protocol_feature_name("ClusteredTable"), protocol_feature_name("TypeWideningPreview")
        ('clustering', 'typeWidening-preview')
    """
    name = native.strip()
    unknown = re.fullmatch(r'Unknown\("(.*)"\)', name)
    if unknown:
        return unknown.group(1)
    if name in _RUST_FEATURE_NAMES:
        return _RUST_FEATURE_NAMES[name]
    preview = name.endswith("Preview")
    base = name[: -len("Preview")] if preview else name
    return base[:1].lower() + base[1:] + ("-preview" if preview else "")


def unsupported_features(text: str) -> tuple[str, ...] | None:
    """The features a delta-rs error says it does not support (None: not such an error).

    Example:
        >>> unsupported_features("Unsupported table features required: [RowTracking, DomainMetadata]")
        ('domainMetadata', 'rowTracking')
        >>> unsupported_features("Kernel error: Unsupported: Feature 'futureThing' is not supported")
        ('futureThing',)
        >>> unsupported_features("commit conflict") is None
        True
    """
    found = _UNSUPPORTED_WRITE.search(text)
    if found:
        names = [n for n in found.group(1).split(",") if n.strip()]
        return tuple(sorted({protocol_feature_name(n) for n in names}))
    found = _UNSUPPORTED_READ.search(text)
    return (found.group(1),) if found else None


__all__ = [
    "DV_RESTORE_DELTALAKE",
    "FIX",
    "MIN_DELTALAKE",
    "WRITABLE_FEATURES",
    "YANKED_DELTALAKE",
    "deltalake_version_problem",
    "installed_deltalake",
    "parse_version",
    "protocol_feature_name",
    "unsupported_features",
]
